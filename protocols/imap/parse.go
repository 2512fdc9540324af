package imap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/maillab/maillab/protocols/wire"
)

// ArgKind is the lexical kind of one command argument.
type ArgKind uint8

const (
	// ArgAtom: a run of atom characters, which here also covers sequence
	// sets ("1:4,*"), flags (`\Seen`), NIL, list wildcards ("%", "*") and
	// fetch attributes with their section ("BODY.PEEK[HEADER.FIELDS (TO)]<0.100>").
	ArgAtom ArgKind = iota + 1
	// ArgQuoted: a quoted string, escapes removed (RFC 3501 section 4.3).
	ArgQuoted
	// ArgLiteral: a literal {n} or {n+}; its octets are in Arg.Bytes.
	ArgLiteral
	// ArgList: a parenthesised list; its elements are in Arg.List.
	ArgList
)

// Arg is one argument of a command, as the lexer saw it. What it means
// depends on the command: the server interprets it with ParseSeqSet,
// ParseFetch, ParseSearch and friends.
type Arg struct {
	Kind  ArgKind
	Text  string // ArgAtom, ArgQuoted: the text
	Bytes []byte // ArgLiteral: the octets
	List  []Arg  // ArgList: the elements
}

// IsString reports whether a is a string (quoted or literal) rather than an
// atom or a list.
func (a Arg) IsString() bool { return a.Kind == ArgQuoted || a.Kind == ArgLiteral }

// AString returns a as an astring (RFC 3501 section 9: atom, quoted or
// literal). A list is not one.
func (a Arg) AString() (string, bool) {
	switch a.Kind {
	case ArgAtom, ArgQuoted:
		return a.Text, true
	case ArgLiteral:
		return string(a.Bytes), true
	}
	return "", false
}

// String renders a roughly as it was sent, for error messages.
func (a Arg) String() string {
	switch a.Kind {
	case ArgAtom:
		return a.Text
	case ArgQuoted:
		return strconv.Quote(a.Text)
	case ArgLiteral:
		return fmt.Sprintf("{%d}", len(a.Bytes))
	case ArgList:
		var b strings.Builder
		b.WriteByte('(')
		for i, e := range a.List {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(e.String())
		}
		b.WriteByte(')')
		return b.String()
	}
	return "?"
}

// Command is one client command (RFC 3501 section 2.2.1).
type Command struct {
	Tag  string // e.g. "a001"
	Name string // upper-cased; UID commands are "UID FETCH", "UID SEARCH"...
	Args []Arg
}

// ParseError is a command the Reader could not read. The server answers it
// with Err, tagged with Tag (or untagged when Tag is ""), and goes on with
// the next command unless Close is set.
type ParseError struct {
	Tag   string
	Err   *Error
	Close bool // the stream cannot be resynchronised: say BYE and close
}

func (e *ParseError) Error() string {
	return "imap: " + e.Err.Error()
}

// ReaderOptions bound what a Reader accepts. A zero field means its default.
type ReaderOptions struct {
	// MaxLineBytes bounds one line of a command, CRLF included, not
	// counting literal data. Default 64 KiB (RFC 7162 section 4 advises
	// servers to accept at least 8192 octets). A longer line is read to its
	// end and refused with BAD.
	MaxLineBytes int
	// MaxLiteralBytes bounds one literal. Default 32 MiB. A synchronizing
	// literal over it is refused with "NO [TOOBIG]" before its data is
	// sent; a non-synchronizing one (LITERAL+) makes the Reader give up the
	// connection (ParseError.Close), since its data is already coming.
	MaxLiteralBytes int64
	// MaxCommandBytes bounds a whole command, lines and literals. Default
	// MaxLiteralBytes plus 1 MiB.
	MaxCommandBytes int64
	// MaxDepth bounds the nesting of parenthesised lists. Default 32.
	MaxDepth int
	// MaxArgs bounds the arguments (counting list elements) of one command.
	// Default 10000.
	MaxArgs int
}

func (o ReaderOptions) withDefaults() ReaderOptions {
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = 64 << 10
	}
	if o.MaxLiteralBytes <= 0 {
		o.MaxLiteralBytes = 32 << 20
	}
	if o.MaxCommandBytes <= 0 {
		o.MaxCommandBytes = o.MaxLiteralBytes + 1<<20
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 32
	}
	if o.MaxArgs <= 0 {
		o.MaxArgs = 10000
	}
	return o
}

// Reader reads commands from a client. It is a small state machine over
// lines and literals: a line is scanned until its end or a literal marker
// "{n}" / "{n+}" at its end; then exactly n octets are read, and scanning
// goes on with the next line, which continues the same command.
type Reader struct {
	r    *bufio.Reader
	opts ReaderOptions

	// Continue is called before the data of a synchronizing literal is
	// read; the server sends "+ Ready for literal data" there and may mark
	// the transcript (RFC 3501 section 7.5). Returning an *Error refuses
	// the literal: the Reader returns it as the command's ParseError
	// (RFC 3501 section 7.5: the server may send a BAD instead of "+"; the
	// client then does not send the data). Nil means no continuation.
	Continue func(cmd *Command, size int64) error
	// LiteralDone, when set, is called after a literal's data was read.
	LiteralDone func(cmd *Command)

	// state of the command being read
	cmd   *Command
	line  []byte
	pos   int
	total int64
	nargs int
}

// NewReader returns a Reader of commands from r.
func NewReader(r *bufio.Reader, opts ReaderOptions) *Reader {
	return &Reader{r: r, opts: opts.withDefaults()}
}

// errIO marks a failure of the underlying reader: it is returned as is.
type ioError struct{ err error }

func (e ioError) Error() string { return e.err.Error() }

// ReadCommand reads the next command. Errors are a *ParseError (answer it
// and go on, unless Close) or the underlying reader's (io.EOF at a command
// boundary, io.ErrUnexpectedEOF in the middle of one, a network error).
// A command is only ever returned whole: a client that disconnects in the
// middle of a literal gives an error, never a partial command.
func (r *Reader) ReadCommand() (*Command, error) {
	r.cmd = &Command{}
	r.total, r.nargs = 0, 0
	defer func() { r.line = nil }()
	if err := r.nextLine(); err != nil {
		if errors.Is(err, wire.ErrLineTooLong) {
			return nil, &ParseError{Err: Bad("Line too long (the limit is %d octets)", r.opts.MaxLineBytes)}
		}
		return nil, err
	}
	cmd, err := r.readCommand()
	if err == nil {
		return cmd, nil
	}
	var ie ioError
	if errors.As(err, &ie) {
		if errors.Is(ie.err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, ie.err
	}
	pe, ok := err.(*ParseError)
	if !ok {
		pe = &ParseError{Err: Bad("%v", err)}
	}
	if pe.Tag == "" {
		pe.Tag = r.cmd.Tag
	}
	if !pe.Close {
		if err := r.skipRest(); err != nil {
			return nil, err
		}
	}
	return nil, pe
}

// nextLine reads one line of the command into r.line.
func (r *Reader) nextLine() error {
	line, err := wire.ReadLine(r.r, r.opts.MaxLineBytes)
	if err != nil {
		if errors.Is(err, wire.ErrLineTooLong) {
			return err
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	r.total += int64(len(line)) + 2
	r.line, r.pos = line, 0
	return nil
}

// skipRest discards what is left of a refused command so that the next
// ReadCommand starts at a command boundary: the rest of the current line
// and, when that line ends with a non-synchronizing literal the client is
// sending anyway, its data and the lines that follow it. A synchronizing
// literal at the end is not waited for: without "+" the client sends
// nothing (RFC 3501 section 7.5).
func (r *Reader) skipRest() error {
	for {
		n, sync, ok := trailingLiteral(r.line[r.pos:])
		if !ok || sync {
			return nil
		}
		if n > r.opts.MaxLiteralBytes {
			return &ParseError{Tag: r.cmd.Tag, Err: Errorf(BYE, CodeTooBig, "Literal too big (the limit is %d octets)", r.opts.MaxLiteralBytes), Close: true}
		}
		if _, err := r.r.Discard(int(n)); err != nil {
			return err
		}
		line, err := wire.ReadLine(r.r, r.opts.MaxLineBytes)
		if err != nil && !errors.Is(err, wire.ErrLineTooLong) {
			return err
		}
		r.line, r.pos = line, 0
	}
}

// trailingLiteral finds a literal marker "{n}" or "{n+}" ending b.
func trailingLiteral(b []byte) (n int64, sync, ok bool) {
	if len(b) < 3 || b[len(b)-1] != '}' {
		return 0, false, false
	}
	i := len(b) - 2
	sync = true
	if b[i] == '+' {
		sync = false
		i--
	}
	end := i + 1
	for i >= 0 && b[i] >= '0' && b[i] <= '9' {
		i--
	}
	if i < 0 || b[i] != '{' || end-i-1 == 0 || end-i-1 > 18 {
		return 0, false, false
	}
	n, err := strconv.ParseInt(string(b[i+1:end]), 10, 64)
	return n, sync, err == nil
}

func (r *Reader) bad(format string, args ...any) error {
	return &ParseError{Err: Bad(format, args...)}
}

func (r *Reader) readCommand() (*Command, error) {
	// RFC 3501 section 9: tag = 1*<any ASTRING-CHAR except "+">.
	start := r.pos
	for r.pos < len(r.line) && isAStringChar(r.line[r.pos]) && r.line[r.pos] != '+' {
		r.pos++
	}
	if r.pos == start {
		if len(r.line) == 0 {
			return nil, r.bad("Empty command line: expected a tag, a command and its arguments")
		}
		return nil, r.bad("Expected a tag (letters and digits) at the start of the line")
	}
	r.cmd.Tag = string(r.line[start:r.pos])
	if !r.space() {
		return nil, r.bad("Expected SP after tag")
	}
	name, ok := r.atom()
	if !ok {
		return nil, r.bad("Expected a command name after the tag")
	}
	r.cmd.Name = strings.ToUpper(name)
	if r.cmd.Name == "UID" {
		if !r.space() {
			return nil, r.bad("Expected SP and a command after UID")
		}
		sub, ok := r.atom()
		if !ok {
			return nil, r.bad("Expected a command after UID")
		}
		r.cmd.Name = "UID " + strings.ToUpper(sub)
	}
	for r.pos < len(r.line) {
		if !r.space() {
			return nil, r.bad("Expected SP between arguments, found %q", r.line[r.pos])
		}
		a, err := r.arg(0)
		if err != nil {
			return nil, err
		}
		r.cmd.Args = append(r.cmd.Args, a)
	}
	return r.cmd, nil
}

func (r *Reader) space() bool {
	if r.pos < len(r.line) && r.line[r.pos] == ' ' {
		r.pos++
		return true
	}
	return false
}

// atom reads a plain atom (no brackets).
func (r *Reader) atom() (string, bool) {
	start := r.pos
	for r.pos < len(r.line) && isAtomChar(r.line[r.pos]) && r.line[r.pos] != '[' {
		r.pos++
	}
	return string(r.line[start:r.pos]), r.pos > start
}

// arg reads one argument at depth (0 outside lists).
func (r *Reader) arg(depth int) (Arg, error) {
	r.nargs++
	if r.nargs > r.opts.MaxArgs {
		return Arg{}, r.bad("Too many arguments (the limit is %d)", r.opts.MaxArgs)
	}
	if r.pos >= len(r.line) {
		return Arg{}, r.bad("Expected an argument at the end of the line")
	}
	switch c := r.line[r.pos]; {
	case c == '(':
		return r.list(depth + 1)
	case c == '"':
		s, err := r.quoted()
		return Arg{Kind: ArgQuoted, Text: s}, err
	case c == '{':
		b, err := r.literal()
		return Arg{Kind: ArgLiteral, Bytes: b}, err
	case c == ' ':
		return Arg{}, r.bad("Expected an argument, found a second SP")
	case c == ')':
		return Arg{}, r.bad("Unexpected \")\"")
	default:
		s, err := r.bracketAtom()
		return Arg{Kind: ArgAtom, Text: s}, err
	}
}

// list reads "(" [arg *(SP arg)] ")".
func (r *Reader) list(depth int) (Arg, error) {
	if depth > r.opts.MaxDepth {
		return Arg{}, r.bad("Lists nested too deep (the limit is %d)", r.opts.MaxDepth)
	}
	r.pos++ // "("
	a := Arg{Kind: ArgList, List: []Arg{}}
	for {
		if r.pos >= len(r.line) {
			return a, r.bad("Expected \")\" to close a list")
		}
		if r.line[r.pos] == ')' {
			r.pos++
			return a, nil
		}
		if len(a.List) > 0 && !r.space() {
			return a, r.bad("Expected SP or \")\" in a list, found %q", r.line[r.pos])
		}
		e, err := r.arg(depth)
		if err != nil {
			return a, err
		}
		a.List = append(a.List, e)
	}
}

// quoted reads a quoted string (RFC 3501 section 9: quoted = DQUOTE
// *QUOTED-CHAR DQUOTE, QUOTED-CHAR = any TEXT-CHAR except quoted-specials,
// or "\" quoted-specials).
func (r *Reader) quoted() (string, error) {
	r.pos++ // opening quote
	var b []byte
	start := r.pos
	for r.pos < len(r.line) {
		c := r.line[r.pos]
		switch {
		case c == '"':
			var s string
			if b == nil {
				s = string(r.line[start:r.pos])
			} else {
				s = string(b)
			}
			r.pos++
			return s, nil
		case c == '\\':
			if b == nil {
				b = append([]byte{}, r.line[start:r.pos]...)
			}
			if r.pos+1 >= len(r.line) {
				return "", r.bad("Quoted string ends in a backslash")
			}
			n := r.line[r.pos+1]
			if n != '"' && n != '\\' {
				return "", r.bad("Only \\\" and \\\\ may be escaped in a quoted string, found \\%c", n)
			}
			b = append(b, n)
			r.pos += 2
		case c == '\r' || c == '\n' || c == 0:
			return "", r.bad("A quoted string cannot hold CR, LF or NUL: use a literal")
		default:
			if b != nil {
				b = append(b, c)
			}
			r.pos++
		}
	}
	return "", r.bad("Quoted string without a closing \"")
}

// literal reads "{n}" or "{n+}" at the end of the line, the n octets after
// it, and the next line, which continues the command (RFC 3501 section 4.3,
// RFC 7888 section 3).
func (r *Reader) literal() ([]byte, error) {
	n, sync, ok := trailingLiteral(r.line[r.pos:])
	if !ok || bytes.IndexByte(r.line[r.pos+1:], '{') >= 0 {
		return nil, r.bad("Expected a literal {n} or {n+} at the end of the line")
	}
	if n > r.opts.MaxLiteralBytes || r.total+n > r.opts.MaxCommandBytes {
		if !sync {
			// RFC 7888 section 4: the data of a non-synchronizing literal
			// is on its way; the server cannot refuse it and stay in step.
			r.pos = len(r.line)
			return nil, &ParseError{Err: Errorf(BYE, CodeTooBig, "Literal of %d octets is too big (the limit is %d); closing", n, r.opts.MaxLiteralBytes), Close: true}
		}
		// RFC 3501 section 7.5 / RFC 7888 section 4: refuse instead of "+".
		return nil, &ParseError{Err: Errorf(NO, CodeTooBig, "Literal of %d octets is too big (the limit is %d)", n, r.opts.MaxLiteralBytes)}
	}
	r.pos = len(r.line)
	if sync && r.Continue != nil {
		if err := r.Continue(r.cmd, n); err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, &ParseError{Err: e}
			}
			return nil, ioError{err}
		}
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r.r, buf); err != nil {
		return nil, ioError{err}
	}
	r.total += n
	if r.LiteralDone != nil {
		r.LiteralDone(r.cmd)
	}
	if err := r.nextLine(); err != nil {
		if errors.Is(err, wire.ErrLineTooLong) {
			return nil, &ParseError{Err: Bad("Line too long (the limit is %d octets)", r.opts.MaxLineBytes)}
		}
		return nil, ioError{err}
	}
	return buf, nil
}

// bracketAtom reads an atom that may hold one "[...]" section, as fetch
// attributes do ("BODY[HEADER.FIELDS (DATE FROM)]<0.2048>") and response
// codes would. Inside the brackets spaces, parentheses and quoted strings
// are allowed.
func (r *Reader) bracketAtom() (string, error) {
	start := r.pos
	for r.pos < len(r.line) {
		c := r.line[r.pos]
		if c == '[' {
			r.pos++
			depth := 0
			for {
				if r.pos >= len(r.line) {
					return "", r.bad("Expected \"]\" to close \"[\"")
				}
				c := r.line[r.pos]
				if c == ']' && depth == 0 {
					r.pos++
					break
				}
				switch c {
				case '(':
					depth++
					if depth > r.opts.MaxDepth {
						return "", r.bad("Lists nested too deep (the limit is %d)", r.opts.MaxDepth)
					}
				case ')':
					if depth == 0 {
						return "", r.bad("Unexpected \")\" inside \"[...]\"")
					}
					depth--
				case '"':
					if _, err := r.quoted(); err != nil {
						return "", err
					}
					continue
				case '{':
					return "", r.bad("Literals inside \"[...]\" are not supported; use quoted strings")
				}
				if c < ' ' || c == 0x7f {
					return "", r.bad("Control character inside \"[...]\"")
				}
				r.pos++
			}
			continue
		}
		if !isAtomChar(c) {
			break
		}
		r.pos++
	}
	if r.pos == start {
		return "", r.bad("Unexpected %q", r.line[r.pos])
	}
	return string(r.line[start:r.pos]), nil
}

// isAtomChar is lenient ATOM-CHAR (RFC 3501 section 9): it also admits the
// list wildcards "%" and "*", "\" for flags and "]" (resp-specials), so
// that one lexer covers atoms, sequence sets, flags and mailbox patterns.
func isAtomChar(c byte) bool {
	switch c {
	case '(', ')', '{', ' ', '"':
		return false
	}
	return c > ' ' && c < 0x7f
}

// isAStringChar is ASTRING-CHAR (RFC 3501 section 9), used for tags.
func isAStringChar(c byte) bool {
	switch c {
	case '(', ')', '{', ' ', '"', '%', '*', '\\':
		return false
	}
	return c > ' ' && c < 0x7f
}
