package smtpclient

import (
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
	return Options{LocalName: "client.a.test", CommandTimeout: 10 * time.Second, DataTimeout: 10 * time.Second, FinalTimeout: 10 * time.Second}
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
