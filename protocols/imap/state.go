package imap

import "strconv"

// State is where an IMAP session stands (RFC 3501 section 3). Servers report
// every change to the transcript (wire.Tracer.State).
type State int

const (
	// StateNotAuthenticated: after an OK greeting; LOGIN or AUTHENTICATE
	// comes next (RFC 3501 section 3.1).
	StateNotAuthenticated State = iota
	// StateAuthenticated: the user is known; a mailbox may be selected
	// (section 3.2).
	StateAuthenticated
	// StateSelected: a mailbox is selected; message commands work (section
	// 3.3).
	StateSelected
	// StateLogout: the connection is ending (section 3.4).
	StateLogout
)

// String returns the state's name: "NotAuthenticated", "Authenticated",
// "Selected", "Logout".
func (s State) String() string {
	switch s {
	case StateNotAuthenticated:
		return "NotAuthenticated"
	case StateAuthenticated:
		return "Authenticated"
	case StateSelected:
		return "Selected"
	case StateLogout:
		return "Logout"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}
