package imapclient

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/maillab/maillab/protocols/netconn/netconntest"
)

// The scripted server and the tap come from netconntest.
type (
	peer    = netconntest.Peer
	tapConn = netconntest.TapConn
)

// startPeer runs script against the returned client end of a pipe (see
// netconntest.Peer for the script's steps).
func startPeer(t *testing.T, script string) (net.Conn, *peer) {
	t.Helper()
	return netconntest.StartPeer(t, script)
}

// testOptions bound every wait so a broken client fails instead of hanging.
func testOptions() Options {
	return Options{Timeout: 10 * time.Second}
}

// dialPeer starts script and a Client on it.
func dialPeer(t *testing.T, script string, opts Options) (*Client, net.Conn, *peer) {
	t.Helper()
	conn, p := startPeer(t, script)
	c, err := NewClient(conn, opts)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, conn, p
}

// wantIMAPError checks that err wraps an *Error with status and code and
// reads as msg.
func wantIMAPError(t *testing.T, err error, status, code, msg string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *Error", err)
	}
	if e.Status != status || e.Code != code {
		t.Errorf("Error = %+v, want status %s code %q", e, status, code)
	}
	if err.Error() != msg {
		t.Errorf("err = %q\nwant  %q", err.Error(), msg)
	}
}
