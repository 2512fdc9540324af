package smtpserver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/maillab/maillab/protocols/netconn"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/wire"
)

// cmdData receives the message text (RFC 5321 section 4.1.1.4) and hands it
// to the backend while it arrives. The text is read to its final "." in
// every case before the answer, so the session stays in step.
//
//	C: DATA
//	S: 354 Start mail input; end with <CRLF>.<CRLF>
//	C: Subject: hi
//	C: .
//	S: 250 2.0.0 Message accepted for delivery
//
// With LMTP (RFC 2033 section 4.2) the final "." gets one reply per accepted
// recipient, in RCPT order.
func (c *conn) cmdData(arg string) error {
	if arg != "" {
		return smtp.Errorf(smtp.C501SyntaxParams, "5.5.4", "DATA takes no argument")
	}
	c.setState(smtp.StateData)
	c.tr.Mark(wire.ClientToServer, wire.MarkBulk)
	// RFC 2034 section 3: 354 is not 2yz/4yz/5yz, so no enhanced code.
	c.reply(smtp.C354StartInput, "", "Start mail input; end with <CRLF>.<CRLF>")

	c.inData = true
	src := &dataSource{br: c.br, maxLine: c.opts.MaxTextLineBytes, prevCRLF: true, note: c.tr.Note}
	if c.dataBR == nil {
		c.dataBR = bufio.NewReader(src)
	} else {
		c.dataBR.Reset(src)
	}
	r := &dataReader{dot: wire.NewDotReader(c.dataBR, 0), src: src, max: c.opts.MaxMessageBytes}

	// results holds one error per recipient (LMTPData), or one for all.
	var results []error
	ls, perRcpt := c.sess.(LMTPSession)
	perRcpt = perRcpt && c.opts.LMTP
	if perRcpt {
		results = ls.LMTPData(r)
	} else {
		results = []error{c.sess.Data(r)}
	}
	// The backend may return before the end: read the rest so the next
	// command is read as a command.
	drainErr := r.drain()
	c.inData = false
	c.tr.Mark(wire.ClientToServer, wire.MarkNone)
	if src.bareLF {
		c.tr.Note("bare LF line endings in the message were turned into CRLF (RFC 5322 section 2.3)")
	}
	rcpts := c.rcpts
	c.resetTransaction()

	if drainErr != nil {
		if netconn.IsTimeout(drainErr) {
			c.closeWith(smtp.C421Closing, "4.4.2", "Timeout waiting for message data, closing connection")
			return nil
		}
		// The client went away before the final ".": nothing was
		// accepted and there is nobody to answer.
		return errHangUp
	}
	if refusal := r.refusal(); refusal != nil {
		results, perRcpt = []error{refusal}, false
	}
	if !c.opts.LMTP {
		if failed(results[0]) {
			return results[0]
		}
		c.succeed(results[0], smtp.C250OK, "2.0.0", "Message accepted for delivery")
		return nil
	}
	// RFC 2033 section 4.2: one reply per recipient that RCPT accepted.
	for i, to := range rcpts {
		var err error
		switch {
		case !perRcpt:
			err = results[0]
		case len(results) == len(rcpts):
			err = results[i]
		default:
			err = fmt.Errorf("smtpserver: LMTPData returned %d results for %d recipients", len(results), len(rcpts))
		}
		if failed(err) {
			c.replyErr(c.asReply(err))
			continue
		}
		c.succeed(err, smtp.C250OK, "2.1.5", fmt.Sprintf("%s Message delivered", to.Bracketed()))
	}
	return nil
}

// dataReader is the reader a backend's Data gets: the DotReader bounded by
// MaxMessageBytes. Once the message is known to be refused (too big, a line
// too long, a NUL), every Read fails with the *smtp.Error the client will
// get; when the client disconnects, Read fails with io.ErrUnexpectedEOF.
// Only io.EOF means the text is complete.
type dataReader struct {
	dot *wire.DotReader
	src *dataSource
	max int64
	n   int64
	err error // sticky
}

func (r *dataReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.dot.Read(p)
	r.n += int64(n)
	if e := r.refusal(); e != nil {
		r.err = e
		return 0, e
	}
	if err != nil && !errors.Is(err, io.EOF) {
		r.err = err
	}
	return n, err
}

// refusal returns the reply that refuses the message, or nil.
func (r *dataReader) refusal() *smtp.Error {
	switch {
	case r.n > r.max:
		// RFC 1870 section 6.3: 552 when the text exceeds the limit.
		return smtp.Errorf(smtp.C552TooBig, "5.3.4", "Message too big: the limit is %d octets", r.max)
	case r.src.tooLong:
		// RFC 5321 section 4.5.3.1.6.
		return smtp.Errorf(smtp.C500SyntaxError, "5.5.6", "Line too long in message text: the limit is %d octets per line", r.src.maxLine)
	case r.src.nul:
		// RFC 5322 section 3.5: text excludes NUL.
		return smtp.Errorf(smtp.C554Failed, "5.6.0", "NUL octets are not allowed in message text")
	}
	return nil
}

// drain reads the text to its final "." (however big), and returns nil
// then, or the error that stopped it.
func (r *dataReader) drain() error {
	buf := make([]byte, 4096)
	for {
		n, err := r.dot.Read(buf)
		r.n += int64(n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Line states of a dataSource, for a line being read.
const (
	lineStart = iota // nothing of the line read yet
	lineMid          // part of the line passed on
	lineSkip         // the line is too long: drop it up to its LF
)

// dataSource sits between the session's bufio.Reader and the DotReader. It
// passes the text on a line (or buffer) at a time, never reading past the
// end of the line it is in, so the command after the final "." stays in the
// session's reader. On the way it:
//
//   - flags a line longer than maxLine (CRLF included, transparency dot
//     excluded, RFC 5321 section 4.5.3.1.6) and keeps only its start, so
//     memory stays bounded;
//   - flags NUL octets;
//   - lets only CRLF "." CRLF end the text (RFC 5321 section 4.1.1.4): a "."
//     line that ends in a bare LF, or that follows a line that did, is
//     passed on as the stuffed line "..", which the DotReader turns into
//     text. The DotReader already turns bare LF into CRLF.
type dataSource struct {
	br       *bufio.Reader
	maxLine  int
	pending  []byte
	line     int          // lineStart, lineMid or lineSkip
	lineLen  int          // octets of the current line so far
	first    byte         // first octet of the current line
	lastCR   bool         // the last fragment ended in CR
	prevCRLF bool         // the previous line ended in CRLF
	note     func(string) // tells the transcript, once, about a "." that is text
	noted    bool

	tooLong, nul, bareLF bool
}

var (
	crlf       = []byte("\r\n")
	stuffedDot = []byte("..\r\n")
)

func (s *dataSource) Read(p []byte) (int, error) {
	for len(s.pending) == 0 {
		if err := s.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	return n, nil
}

// next reads the next fragment of a line into pending.
func (s *dataSource) next() error {
	frag, err := s.br.ReadSlice('\n')
	partial := errors.Is(err, bufio.ErrBufferFull)
	if err != nil && !partial {
		return err // io.EOF becomes io.ErrUnexpectedEOF in the DotReader
	}
	if bytes.IndexByte(frag, 0) >= 0 {
		s.nul = true
	}
	if s.lineLen == 0 {
		s.first = frag[0]
	}
	s.lineLen += len(frag)
	if partial {
		s.lastCR = frag[len(frag)-1] == '\r'
		if s.maxLine > 0 && s.lineLen > s.maxLine {
			s.tooLong = true
			s.line = lineSkip
		}
		if s.line != lineSkip {
			s.line = lineMid
			s.pending = frag
		}
		return nil
	}

	// The line is complete.
	endsCRLF := len(frag) >= 2 && frag[len(frag)-2] == '\r' || len(frag) == 1 && s.lastCR && s.lineLen > 1
	size := s.lineLen + 1 // as if it ended in CRLF
	if endsCRLF {
		size--
	} else {
		s.bareLF = true
	}
	if s.first == '.' && s.lineLen > 1 {
		size-- // RFC 5321 section 4.5.3.1.6: the transparency dot does not count
	}
	if s.maxLine > 0 && size > s.maxLine {
		s.tooLong = true
	}
	wholeLine, state, afterCRLF := s.lineLen == len(frag), s.line, s.prevCRLF
	s.prevCRLF, s.lineLen, s.lastCR, s.line = endsCRLF, 0, false, lineStart

	switch {
	case state == lineSkip:
		s.pending = crlf
	case wholeLine && frag[0] == '.' && (len(frag) == 2 || len(frag) == 3 && endsCRLF) && !(endsCRLF && afterCRLF):
		// A "." that is not CRLF "." CRLF is text, not the end.
		s.pending = stuffedDot
		if s.note != nil && !s.noted {
			s.noted = true
			s.note(`a "." line after or with a bare LF is message text, not the end: end with CR LF "." CR LF (nc needs -C)`)
		}
	default:
		s.pending = frag
	}
	return nil
}
