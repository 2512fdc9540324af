package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// ErrLineTooLong is returned by ReadLine when a line exceeds the limit. The
// whole line has been consumed, so the caller can answer and go on.
var ErrLineTooLong = errors.New("line too long")

// ReadLine reads one line ending in LF from r and returns it without its CR
// LF (or bare LF). max counts the octets of the line including CRLF, as
// RFC 5321 section 4.5.3.1 counts them; max <= 0 means no limit. An overlong
// line is read to its end, discarded, and reported as ErrLineTooLong. At end
// of input a partial last line is returned with io.ErrUnexpectedEOF.
func ReadLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	tooLong := false
	for {
		frag, err := r.ReadSlice('\n')
		if !tooLong {
			if max > 0 && len(line)+len(frag) > max {
				tooLong = true
				line = nil
			} else {
				line = append(line, frag...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, ErrLineTooLong
			}
			return trimEOL(line), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(line) == 0 && !tooLong {
				return nil, io.EOF
			}
			return trimEOL(line), io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// DotReader returns a reader of the dot-stuffed text on r that ends at the
// line holding a single "." (RFC 5321 section 4.5.2): one leading dot is
// removed from every other line that has one, and each line comes out ending
// in CRLF whatever its ending on the wire. Lines longer than maxLine octets
// (including CRLF; <= 0 means no limit) are still delivered but remembered:
// after the end, Err reports ErrLineTooLong so the server can refuse the
// message with 500 once the whole of it has been read. A connection that ends
// before the final "." gives io.ErrUnexpectedEOF.
func NewDotReader(r *bufio.Reader, maxLine int) *DotReader {
	return &DotReader{r: r, max: maxLine}
}

// DotReader undoes dot-stuffing; see NewDotReader.
type DotReader struct {
	r       *bufio.Reader
	max     int
	buf     []byte
	done    bool
	err     error
	tooLong bool
}

// Read implements io.Reader.
func (d *DotReader) Read(p []byte) (int, error) {
	for len(d.buf) == 0 {
		if d.done {
			return 0, io.EOF
		}
		if d.err != nil {
			return 0, d.err
		}
		d.fill()
	}
	n := copy(p, d.buf)
	d.buf = d.buf[n:]
	return n, nil
}

func (d *DotReader) fill() {
	var line []byte
	for {
		frag, err := d.r.ReadSlice('\n')
		line = append(line, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			d.err = err
			return
		}
		break
	}
	if d.max > 0 && len(bytes.TrimSuffix(line, []byte("\n")))+2 > d.max {
		d.tooLong = true
	}
	line = trimEOL(line)
	if len(line) == 1 && line[0] == '.' {
		d.done = true
		return
	}
	if len(line) > 0 && line[0] == '.' {
		line = line[1:]
	}
	d.buf = append(append(d.buf[:0], line...), '\r', '\n')
}

// Err reports, once Read has returned io.EOF, whether a line was too long.
func (d *DotReader) Err() error {
	if d.tooLong {
		return ErrLineTooLong
	}
	return nil
}

// Drain reads and discards the rest of the dot-stuffed text, so a session can
// answer after refusing a message part-way.
func (d *DotReader) Drain() error {
	_, err := io.Copy(io.Discard, d)
	return err
}

// DotWriter dot-stuffs what is written to it (RFC 5321 section 4.5.2): line
// endings become CRLF, a line starting with "." gets another, and Close ends
// the text with a line holding a single "." (adding a CRLF first when the
// text did not end with one). It does not close the underlying writer.
type DotWriter struct {
	w       *bufio.Writer
	started bool // at least one byte written on the current line
	prevCR  bool
}

// NewDotWriter returns a DotWriter writing to w.
func NewDotWriter(w *bufio.Writer) *DotWriter { return &DotWriter{w: w} }

// Write implements io.Writer.
func (d *DotWriter) Write(p []byte) (int, error) {
	for i, c := range p {
		var err error
		switch {
		case c == '\n':
			if !d.prevCR {
				err = d.w.WriteByte('\r')
			}
			if err == nil {
				err = d.w.WriteByte('\n')
			}
			d.started, d.prevCR = false, false
		case c == '\r':
			err = d.w.WriteByte('\r')
			d.started, d.prevCR = true, true
		default:
			if !d.started && c == '.' {
				err = d.w.WriteByte('.')
			}
			if err == nil {
				err = d.w.WriteByte(c)
			}
			d.started, d.prevCR = true, false
		}
		if err != nil {
			return i, err
		}
	}
	return len(p), nil
}

// Close ends the text with CRLF "." CRLF and flushes.
func (d *DotWriter) Close() error {
	if d.started {
		if d.prevCR {
			if err := d.w.WriteByte('\n'); err != nil {
				return err
			}
		} else if _, err := d.w.WriteString("\r\n"); err != nil {
			return err
		}
	}
	if _, err := d.w.WriteString(".\r\n"); err != nil {
		return err
	}
	return d.w.Flush()
}
