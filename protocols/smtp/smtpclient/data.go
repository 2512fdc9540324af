package smtpclient

import (
	"errors"
	"fmt"
	"io"

	"github.com/maillab/maillab/protocols/wire"
)

// errWriterClosed is returned by writes after Close.
var errWriterClosed = errors.New("smtpclient: message writer already closed")

// startData sends DATA and wants 354 (RFC 5321 section 4.1.1.4).
func (c *Client) startData() error {
	r, err := c.roundTrip("DATA")
	if err != nil {
		return err
	}
	if r.Code != 354 {
		return replyError("DATA", r)
	}
	return nil
}

// beginBody marks the lines that follow as message content and switches the
// write deadline to DataTimeout per block.
func (c *Client) beginBody() *wire.DotWriter {
	c.tr.Mark(wire.ClientToServer, wire.MarkBulk)
	c.writeTimeout = c.opts.DataTimeout
	return wire.NewDotWriter(c.bw)
}

// endBody sends the final "." (RFC 5321 section 4.5.2) and ends the bulk
// mark.
func (c *Client) endBody(dw *wire.DotWriter) error {
	err := dw.Close()
	c.tr.Mark(wire.ClientToServer, wire.MarkNone)
	c.writeTimeout = c.opts.CommandTimeout
	if err != nil {
		return c.fail(fmt.Errorf("smtpclient: writing message: %w", err))
	}
	return nil
}

// writeBody dot-stuffs p; a write error leaves the connection unusable.
func (c *Client) writeBody(dw *wire.DotWriter, p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := dw.Write(p)
	if err != nil {
		return n, c.fail(fmt.Errorf("smtpclient: writing message: %w", err))
	}
	return n, nil
}

// readFinal reads the reply to the final "." with FinalTimeout.
func (c *Client) readFinal() (*Reply, error) {
	r, err := c.readReply(c.opts.FinalTimeout)
	if err != nil {
		return nil, fmt.Errorf("smtpclient: end of data: %w", unwrapPrefix(err))
	}
	return r, nil
}

// Data sends DATA and, after the 354, returns a writer for the message. The
// writer turns line endings into CRLF and dot-stuffs lines that begin with
// "." (RFC 5321 section 4.5.2); Close sends the final "." (after a CRLF if
// the message did not end with one) and returns the final reply as an error
// wrapping *smtp.Error when it is a 4yz or 5yz. The Client may not be used
// until Close returns. In LMTP mode use DataLMTP.
//
//	C: DATA
//	S: 354 End data with <CR><LF>.<CR><LF>
//	C: Subject: hello
//	C: .
//	S: 250 2.0.0 Ok: queued
func (c *Client) Data() (io.WriteCloser, error) {
	if c.opts.LMTP {
		return nil, errors.New("smtpclient: DATA in LMTP mode gives one reply per recipient: use DataLMTP")
	}
	if err := c.startData(); err != nil {
		return nil, err
	}
	return &dataWriter{c: c, dw: c.beginBody()}, nil
}

type dataWriter struct {
	c      *Client
	dw     *wire.DotWriter
	closed bool
}

func (w *dataWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errWriterClosed
	}
	return w.c.writeBody(w.dw, p)
}

func (w *dataWriter) Close() error {
	if w.closed {
		return errWriterClosed
	}
	w.closed = true
	if err := w.c.endBody(w.dw); err != nil {
		return err
	}
	r, err := w.c.readFinal()
	if err != nil {
		return err
	}
	w.c.rcpts = nil
	// RFC 5321 section 4.2.5: only a 2yz hands the message over.
	if r.Class() != 2 {
		return replyError("end of data", r)
	}
	return nil
}

// DataLMTP sends DATA in LMTP mode and returns a writer for the message
// whose Close reads one reply per accepted recipient (RFC 2033 section 4.2).
func (c *Client) DataLMTP() (*LMTPWriter, error) {
	if !c.opts.LMTP {
		return nil, errors.New("smtpclient: DataLMTP needs Options.LMTP")
	}
	rcpts := append([]string(nil), c.rcpts...)
	if err := c.startData(); err != nil {
		return nil, err
	}
	return &LMTPWriter{c: c, dw: c.beginBody(), rcpts: rcpts}, nil
}

// LMTPWriter writes a message in LMTP mode; see DataLMTP.
type LMTPWriter struct {
	c      *Client
	dw     *wire.DotWriter
	rcpts  []string
	closed bool
}

// Write dot-stuffs p onto the connection.
func (w *LMTPWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errWriterClosed
	}
	return w.c.writeBody(w.dw, p)
}

// Close sends the final "." and reads one reply per recipient accepted since
// MAIL, in the order they were accepted (RFC 2033 section 4.2). results[i]
// is nil when the message was delivered to that recipient and an error
// wrapping *smtp.Error otherwise ("smtpclient: DATA for <bob@b.test>: 452
// 4.2.2 Mailbox full"). err is set only when the replies could not be read.
func (w *LMTPWriter) Close() (results []error, err error) {
	if w.closed {
		return nil, errWriterClosed
	}
	w.closed = true
	if err := w.c.endBody(w.dw); err != nil {
		return nil, err
	}
	replies, err := w.c.readLMTPReplies(len(w.rcpts))
	if err != nil {
		return nil, err
	}
	results = make([]error, len(replies))
	for i, r := range replies {
		if r.Class() != 2 {
			results[i] = replyError("DATA for <"+w.rcpts[i]+">", r)
		}
	}
	return results, nil
}

// readLMTPReplies reads n replies to the final ".", each within FinalTimeout.
func (c *Client) readLMTPReplies(n int) ([]*Reply, error) {
	replies := make([]*Reply, 0, n)
	for range n {
		r, err := c.readFinal()
		if err != nil {
			return nil, err
		}
		replies = append(replies, r)
	}
	c.rcpts = nil
	return replies, nil
}

// SendData sends r as a message body after a raw DATA (see Cmd) got 354:
// dot-stuffed, then the final ".". It returns the reply whatever its code.
// In LMTP mode use SendDataLMTP.
func (c *Client) SendData(r io.Reader) (*Reply, error) {
	if c.opts.LMTP {
		return nil, errors.New("smtpclient: SendData in LMTP mode: use SendDataLMTP")
	}
	if err := c.sendBody(r); err != nil {
		return nil, err
	}
	reply, err := c.readFinal()
	if err != nil {
		return nil, err
	}
	c.rcpts = nil
	return reply, nil
}

// SendDataLMTP is SendData for LMTP: it returns one reply per recipient
// accepted since MAIL (RFC 2033 section 4.2), whatever their codes.
func (c *Client) SendDataLMTP(r io.Reader) ([]*Reply, error) {
	if !c.opts.LMTP {
		return nil, errors.New("smtpclient: SendDataLMTP needs Options.LMTP")
	}
	n := len(c.rcpts)
	if err := c.sendBody(r); err != nil {
		return nil, err
	}
	return c.readLMTPReplies(n)
}

// sendBody copies r dot-stuffed and ends it with ".". When r fails the
// connection is closed rather than ending the message: a "." would make the
// server deliver a truncated message, a dropped connection makes it discard
// it (RFC 5321 section 3.8).
func (c *Client) sendBody(r io.Reader) error {
	if c.err != nil {
		return c.err
	}
	dw := c.beginBody()
	src := &errReader{r: r}
	if _, err := io.Copy(bodyWriter{c, dw}, src); err != nil {
		c.tr.Mark(wire.ClientToServer, wire.MarkNone)
		if src.err != nil {
			c.conn.Close()
			return c.fail(fmt.Errorf("smtpclient: reading message (connection closed so the server discards it): %w", src.err))
		}
		return err
	}
	return c.endBody(dw)
}

type bodyWriter struct {
	c  *Client
	dw *wire.DotWriter
}

func (b bodyWriter) Write(p []byte) (int, error) { return b.c.writeBody(b.dw, p) }

// errReader remembers the error of the message reader, to tell it from a
// network error.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}
