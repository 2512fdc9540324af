package transcripts

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// MaxLineBytes caps the bytes of one recorded line; the rest of an overlong
// line is counted, not kept, and shown as a "…(N more bytes)" suffix, so a
// hostile peer cannot make the recorder hold an unbounded line.
const MaxLineBytes = 4096

// splitter cuts the bytes of one direction of a connection into lines. It
// keeps at most MaxLineBytes of the current partial line.
type splitter struct {
	pos       int64 // bytes fed so far
	lineStart int64 // position of the first byte of the current line
	buf       []byte
	extra     int64 // bytes of the current line beyond MaxLineBytes
	lastCR    bool  // the last byte fed was a CR
}

// feed cuts p into lines and calls emit for each complete one with its text
// (CR LF removed; valid until emit returns), the count of bytes cut off, and
// the position of its first byte. emit returns false to stop splitting: the
// rest of p is then only counted, and returned (used once TLS starts: the
// rest are TLS records).
func (s *splitter) feed(p []byte, emit func(line []byte, extra, start int64) bool) (rest []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i >= 0 && len(s.buf) == 0 && s.extra == 0 && i < MaxLineBytes {
			// Fast path: the whole line is in p.
			line := p[:i]
			if i > 0 && line[i-1] == '\r' {
				line = line[:i-1]
			}
			s.pos += int64(i) + 1
			start := s.lineStart
			s.lineStart, s.lastCR = s.pos, false
			p = p[i+1:]
			if !emit(line, 0, start) {
				s.pos += int64(len(p))
				s.lineStart = s.pos
				return p
			}
			continue
		}
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if len(chunk) > 0 {
			s.lastCR = chunk[len(chunk)-1] == '\r'
		}
		room := MaxLineBytes - len(s.buf)
		if len(chunk) <= room {
			s.buf = append(s.buf, chunk...)
		} else {
			s.buf = append(s.buf, chunk[:room]...)
			s.extra += int64(len(chunk) - room)
		}
		if i < 0 {
			s.pos += int64(len(p))
			return nil
		}
		s.pos += int64(i) + 1
		p = p[i+1:]
		if !s.flushLine(emit) {
			s.pos += int64(len(p))
			s.lineStart = s.pos
			return p
		}
	}
	return nil
}

// flushLine emits the buffered line (at LF, or a partial one at close).
func (s *splitter) flushLine(emit func(line []byte, extra, start int64) bool) bool {
	line, extra := s.buf, s.extra
	if s.lastCR {
		if extra > 0 {
			extra--
		} else if len(line) > 0 {
			line = line[:len(line)-1]
		}
	}
	start := s.lineStart
	s.lineStart = s.pos
	s.buf, s.extra, s.lastCR = s.buf[:0], 0, false
	return emit(line, extra, start)
}

// pending reports whether a partial line is buffered.
func (s *splitter) pending() bool { return len(s.buf) > 0 || s.extra > 0 }

// escapeLine returns b as text safe to print on a terminal: valid UTF-8 is
// kept, every other byte and every control character except tab is shown
// escaped ("\x1b", "\r", "\u0085"), so a peer cannot drive the class's
// terminal with escape sequences.
func escapeLine(b []byte) string {
	clean := true
	for _, c := range b {
		if c < 0x20 && c != '\t' || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return string(b)
	}
	out := make([]byte, 0, len(b)+16)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n <= 1:
			out = append(out, `\x`...)
			out = appendHex2(out, b[0])
		case r == '\t':
			out = append(out, '\t')
		case r == '\r':
			out = append(out, `\r`...)
		case r < 0x20 || r == 0x7f:
			out = append(out, `\x`...)
			out = appendHex2(out, byte(r))
		case r >= 0x80 && r < 0xa0:
			out = append(out, `\u00`...)
			out = appendHex2(out, byte(r))
		default:
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return string(out)
}

func appendHex2(out []byte, c byte) []byte {
	const hex = "0123456789abcdef"
	return append(out, hex[c>>4], hex[c&0xf])
}

// lineText is the recorded text of a line: escaped, with the overlong suffix.
func lineText(line []byte, extra int64) string {
	s := escapeLine(line)
	if extra > 0 {
		s += "…(" + strconv.FormatInt(extra, 10) + " more bytes)"
	}
	return s
}
