package netconn

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineSession is a tiny line protocol: it greets with "hello", answers
// "quit" with "bye", "busy" by blocking until released (then "done"), and
// anything else by echoing it. An interrupted read ends it with "shutting
// down"; both of those endings linger.
type lineSession struct {
	c       *Conn
	br      *bufio.Reader
	busy    chan<- struct{} // told when the session is busy
	release <-chan struct{} // ends the busy wait
}

func (s *lineSession) Read(p []byte) (int, error) { return s.c.Read(p, time.Minute, true) }

func (s *lineSession) write(line string) error {
	_, err := s.c.Write([]byte(line+"\r\n"), time.Minute)
	return err
}

func (s *lineSession) Serve() bool {
	s.write("hello")
	for {
		if s.c.loop.ShuttingDown() {
			s.write("shutting down")
			return true
		}
		line, err := s.br.ReadString('\n')
		switch {
		case s.c.loop.Interrupted(err):
			s.write("shutting down")
			return true
		case err != nil:
			return false
		}
		switch line = strings.TrimSpace(line); line {
		case "quit":
			s.write("bye")
			return true
		case "busy":
			s.busy <- struct{}{}
			<-s.release
			if s.write("done") != nil {
				return false
			}
		default:
			s.write(line)
		}
	}
}

type fixture struct {
	loop    *Loop
	addr    string
	served  chan error
	busy    chan struct{}
	release chan struct{}
}

func start(t *testing.T, maxConns int) *fixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		loop:    NewLoop(Config{Name: "lines", MaxConns: maxConns, Refusal: "BUSY try later\r\n", WriteTimeout: time.Minute}),
		addr:    ln.Addr().String(),
		served:  make(chan error, 1),
		busy:    make(chan struct{}),
		release: make(chan struct{}),
	}
	go func() {
		f.served <- f.loop.Serve(ln, func(c *Conn) Session {
			s := &lineSession{c: c, busy: f.busy, release: f.release}
			s.br = bufio.NewReader(s)
			return s
		})
	}()
	t.Cleanup(func() {
		f.loop.Shutdown(context.Background())
		if err := <-f.served; err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	})
	return f
}

type client struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func (f *fixture) dial(t *testing.T) *client {
	t.Helper()
	nc, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *client) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, line+"\r\n"); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) expect(want string) {
	c.t.Helper()
	got, err := c.br.ReadString('\n')
	if got != want+"\r\n" || err != nil {
		c.t.Fatalf("read %q, %v; want %q", got, err, want+"\r\n")
	}
}

func (c *client) expectClosed() {
	c.t.Helper()
	if got, err := c.br.ReadString('\n'); err == nil {
		c.t.Fatalf("read %q, want the connection closed", got)
	}
	c.nc.Close() // ends the server's linger at once
}

func TestServeAndQuit(t *testing.T) {
	f := start(t, 10)
	c := f.dial(t)
	c.expect("hello")
	c.send("ping")
	c.expect("ping")
	c.send("quit")
	c.expect("bye")
	c.expectClosed()
}

func TestShutdownWakesIdleSessions(t *testing.T) {
	f := start(t, 10)
	a, b := f.dial(t), f.dial(t)
	a.expect("hello")
	b.expect("hello")
	a.send("ping")
	a.expect("ping") // a is now blocked in an idle read, like b
	shut := make(chan error, 1)
	go func() { shut <- f.loop.Shutdown(context.Background()) }()
	for _, c := range []*client{a, b} {
		c.expect("shutting down")
		c.expectClosed()
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if err := <-f.served; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	f.served <- nil // for the cleanup
	if _, err := net.Dial("tcp", f.addr); err == nil {
		t.Error("the listener still accepts after Shutdown")
	}
}

func TestShutdownLetsBusySessionFinish(t *testing.T) {
	f := start(t, 10)
	c := f.dial(t)
	c.expect("hello")
	c.send("busy")
	<-f.busy
	shut := make(chan error, 1)
	go func() { shut <- f.loop.Shutdown(context.Background()) }()
	<-f.loop.Stopping()
	close(f.release)
	c.expect("done")
	c.expect("shutting down")
	c.expectClosed()
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
}

func TestShutdownForceClosesAfterContext(t *testing.T) {
	f := start(t, 10)
	c := f.dial(t)
	c.expect("hello")
	c.send("busy")
	<-f.busy
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := f.loop.Shutdown(ctx)
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "lines: shutdown: ") {
		t.Errorf("Shutdown = %v, want lines: shutdown: context canceled", err)
	}
	c.expectClosed() // the busy session's connection was closed under it
	close(f.release)
	f.loop.Wait()
}

func TestMaxConnsRefuses(t *testing.T) {
	f := start(t, 1)
	a := f.dial(t)
	a.expect("hello")
	b := f.dial(t)
	b.expect("BUSY try later")
	b.expectClosed()
	a.send("quit") // the place frees up
	a.expect("bye")
	a.expectClosed()
	// The session is forgotten before its connection closes, so a client
	// that saw EOF finds the place free.
	c := f.dial(t)
	c.expect("hello")
}

func TestServeAfterShutdown(t *testing.T) {
	l := NewLoop(Config{Name: "lines", MaxConns: 1})
	if err := l.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Serve(ln, nil); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("Serve left the listener open")
	}
	a, b := net.Pipe()
	defer b.Close()
	l.ServeConn(a, nil) // closes a
	if _, err := b.Read(make([]byte, 1)); err == nil {
		t.Error("ServeConn left the connection open")
	}
}

// flakyListener fails its Accepts with temporary errors, then with a
// permanent one if fail is set.
type flakyListener struct {
	net.Listener
	mu       sync.Mutex
	accepts  int
	temps    int // temporary failures before the permanent one
	accepted chan struct{}
}

type tempErr struct{}

func (tempErr) Error() string   { return "too many open files" }
func (tempErr) Temporary() bool { return true }
func (tempErr) Timeout() bool   { return false }

var errBroken = errors.New("listener broken")

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accepts++
	select {
	case l.accepted <- struct{}{}:
	default:
	}
	if l.temps < 0 || l.accepts <= l.temps {
		return nil, tempErr{}
	}
	return nil, errBroken
}

func (l *flakyListener) Close() error { return nil }

func TestTemporaryAcceptErrorsAreWaitedOut(t *testing.T) {
	fl := &flakyListener{temps: 3}
	err := NewLoop(Config{Name: "lines", MaxConns: 1}).Serve(fl, nil)
	if !errors.Is(err, errBroken) || err.Error() != "lines: accept: listener broken" {
		t.Errorf("Serve = %v, want lines: accept: listener broken", err)
	}
	if fl.accepts != 4 {
		t.Errorf("%d accepts, want 4", fl.accepts)
	}
}

func TestShutdownCutsAcceptBackoffShort(t *testing.T) {
	fl := &flakyListener{temps: -1, accepted: make(chan struct{}, 1)}
	l := NewLoop(Config{Name: "lines", MaxConns: 1})
	served := make(chan error, 1)
	go func() { served <- l.Serve(fl, nil) }()
	<-fl.accepted
	if err := l.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

func TestLingerCloseKeepsLastReply(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		br := bufio.NewReader(nc)
		br.ReadString('\n') // the first command; the rest stays unread
		io.WriteString(nc, "bye\r\n")
		LingerClose(nc)
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(nc, "quit\r\n"+strings.Repeat("noop\r\n", 1000))
	got, err := io.ReadAll(nc)
	if string(got) != "bye\r\n" || err != nil {
		t.Errorf("read %q, %v; want the last reply, then EOF", got, err)
	}
	nc.Close()
	<-done
}

func TestDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(nc, "hello\r\n")
			defer nc.Close()
		}
	}()
	greet := func(nc net.Conn) (string, error) {
		line, err := bufio.NewReader(nc).ReadString('\n')
		if err != nil {
			nc.Close()
		}
		return line, err
	}

	got, err := Dial(context.Background(), nil, ln.Addr().String(), "lines", greet)
	if got != "hello\r\n" || err != nil {
		t.Errorf("Dial = %q, %v", got, err)
	}

	refused := func(context.Context, string, string) (net.Conn, error) { return nil, errBroken }
	if _, err := Dial(context.Background(), refused, "x.test:1", "lines", greet); !errors.Is(err, errBroken) || err.Error() != "lines: dial x.test:1: listener broken" {
		t.Errorf("Dial = %v", err)
	}

	// The context ends while start waits: the connection is closed, which
	// unblocks it, and the context's cause is returned.
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("gave up")
	silent := func(ctx context.Context, _, _ string) (net.Conn, error) {
		a, b := net.Pipe()
		t.Cleanup(func() { b.Close() })
		return a, nil
	}
	waiting := func(nc net.Conn) (string, error) {
		cancel(cause)
		return greet(nc)
	}
	if _, err := Dial(ctx, silent, "x.test:1", "lines", waiting); !errors.Is(err, cause) || !strings.HasPrefix(err.Error(), "lines: dial x.test:1: ") {
		t.Errorf("Dial = %v, want the context's cause", err)
	}
}
