package scenarios

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a place in a scenario file. Lines and columns are 1-based; a zero
// Col means the YAML parser gave only a line.
type Pos struct {
	File string
	Line int
	Col  int
}

// String returns "file:line:col", the form editors and compilers use.
func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

func (p Pos) before(q Pos) bool {
	if p.Line != q.Line {
		return p.Line < q.Line
	}
	return p.Col < q.Col
}

// Error is one thing wrong in a scenario file, at a position.
type Error struct {
	Pos Pos
	Msg string
}

// Error returns "file:line:col: what is wrong".
func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every error found in one scenario file, sorted by position.
// Parse returns it whole, so a teacher fixes a file in one pass.
type ErrorList []*Error

// Error returns one "file:line:col: what is wrong" line per error.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (l ErrorList) sort() {
	sort.SliceStable(l, func(i, j int) bool { return l[i].Pos.before(l[j].Pos) })
}

// Unwrap lets errors.As find each *Error.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}
