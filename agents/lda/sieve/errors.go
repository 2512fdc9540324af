package sieve

import "fmt"

// Pos is a place in a script. Lines and columns are 1-based; columns count
// bytes, as Go's own compiler does.
type Pos struct {
	Line int
	Col  int
}

// String returns "line:col".
func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Error is a mistake in a script, found by Parse, or a failure while a
// script runs, found by Run. Its text is "name:line:col: what is wrong", the
// form editors and compilers use, so a teacher can jump to the line.
type Error struct {
	Name string // the script's name, as given to Parse
	Line int
	Col  int
	Msg  string
}

// Error returns "name:line:col: what is wrong".
func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.Name, e.Line, e.Col, e.Msg)
}

func errorAt(name string, p Pos, format string, args ...any) *Error {
	return &Error{Name: name, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)}
}
