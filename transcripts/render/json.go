package render

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/maillab/maillab/transcripts"
)

// JSON writes events as JSON Lines, one object per line, for tools and for
// --json. Events decode back with json.Unmarshal into transcripts.Event. It is
// safe for concurrent use. Like Text, it masks credentials (lines marked
// secret: PASS, LOGIN, AUTH data) as "***" unless ShowSecrets is set: a
// transcript saved as JSON is as easy to share as a printed one.
type JSON struct {
	// ShowSecrets writes secret lines as they crossed the wire.
	ShowSecrets bool

	mu sync.Mutex
	w  io.Writer
}

// NewJSON returns a JSON writing to w.
func NewJSON(w io.Writer) *JSON { return &JSON{w: w} }

// Write writes e as one line.
func (j *JSON) Write(e transcripts.Event) error {
	if e.Secret && !j.ShowSecrets {
		e.Line = maskSecret(e.Proto, e.Line)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("render: json: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("render: json: %w", err)
	}
	return nil
}

// Flush does nothing: every Write is complete. It is there so that Text and
// JSON are both a Renderer.
func (j *JSON) Flush() error { return nil }

// Renderer is what Text and JSON have in common.
type Renderer interface {
	Write(e transcripts.Event) error
	Flush() error
}

var (
	_ Renderer = (*Text)(nil)
	_ Renderer = (*JSON)(nil)
)
