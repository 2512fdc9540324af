package transcripts

import (
	"encoding/json"
	"fmt"

	"github.com/maillab/maillab/protocols/wire"
)

// eventJSON has Event's fields without its methods, to avoid recursion.
type eventJSON Event

// MarshalJSON writes e with "dir" set from Dir ("C" or "S") when DirText is
// empty.
func (e Event) MarshalJSON() ([]byte, error) {
	if e.DirText == "" && e.Dir != 0 {
		e.DirText = e.Dir.String()
	}
	return json.Marshal(eventJSON(e))
}

// UnmarshalJSON reads an event written by MarshalJSON and sets Dir from
// "dir", so an event survives a round trip through JSON Lines.
func (e *Event) UnmarshalJSON(b []byte) error {
	var j eventJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("transcripts: event: %w", err)
	}
	*e = Event(j)
	switch e.DirText {
	case "C":
		e.Dir = wire.ClientToServer
	case "S":
		e.Dir = wire.ServerToClient
	case "":
		e.Dir = 0
	default:
		return fmt.Errorf("transcripts: event: unknown dir %q", e.DirText)
	}
	return nil
}
