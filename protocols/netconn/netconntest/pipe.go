package netconntest

import (
	"net"
	"sync"
)

// PipeListener hands out net.Pipe connections, so a server test controls
// exactly how bytes are grouped in reads and writes, and may wrap the
// server's end (to record what the server writes and tells its Tracer).
type PipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// NewPipeListener returns a listener with no connection waiting.
func NewPipeListener() *PipeListener {
	return &PipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept returns the server end of the next Dial, or net.ErrClosed once
// the listener is closed.
func (l *PipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close makes Accept return net.ErrClosed. It is safe to call twice.
func (l *PipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is a placeholder address, "pipe".
func (l *PipeListener) Addr() net.Addr { return pipeAddr{} }

// Dial returns the client end of a new pipe; the server end, wrapped by
// wrap, is handed to Accept (Dial waits for it to be accepted).
func (l *PipeListener) Dial(wrap func(net.Conn) net.Conn) net.Conn {
	client, server := net.Pipe()
	l.conns <- wrap(server)
	return client
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
