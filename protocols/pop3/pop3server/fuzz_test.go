package pop3server

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maillab/maillab/protocols/netconn/netconntest"
)

// lockedBuffer collects the server's log across sessions.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// FuzzSession plays arbitrary client input against a session and fails on
// a panic (recovered at the connection boundary and logged) or on output
// that is not POP3: every line the server writes must end in CRLF.
func FuzzSession(f *testing.F) {
	for _, seed := range []string{
		"USER bob\r\nPASS secret\r\nSTAT\r\nLIST\r\nRETR 2\r\nTOP 1 0\r\nUIDL\r\nDELE 1\r\nRSET\r\nNOOP\r\n",
		"APOP bob 00000000000000000000000000000000\r\nCAPA\r\n",
		"AUTH PLAIN\r\nAGJvYgBzZWNyZXQ=\r\nLIST 1\r\nTOP 2 1\r\nUIDL 2\r\nDELE 2\r\nRETR 2\r\n",
		"AUTH PLAIN AGJvYgBzZWNyZXQ=\r\nTOP 1 999999999\r\nLIST 0\r\n",
		"AUTH\r\nAUTH PLAIN\r\n*\r\nUSER\r\nPASS\r\nRETR 1\r\n",
		"USER bob\nPASS secret\nRETR 1\n\x00\xff\r\n" + strings.Repeat("x", 300) + "\r\n",
	} {
		f.Add([]byte(seed))
	}
	var log lockedBuffer
	opts := testOptions()
	opts.Logger = slog.New(slog.NewTextHandler(&log, nil))
	opts.IdleTimeout = 10 * time.Second // a safety net only
	opts.MaxErrors = 1000
	opts.MaxAuthFailures = 1000
	l := netconntest.NewPipeListener()
	serveOn(f, opts, bobBackend(), l)
	f.Fuzz(func(t *testing.T, input []byte) {
		nc := l.Dial(func(c net.Conn) net.Conn { return c })
		defer nc.Close()
		go func() {
			// Two QUITs: the first may be taken as a SASL response.
			nc.Write(append(append([]byte(nil), input...), "\r\nQUIT\r\nQUIT\r\n"...))
		}()
		out, _ := io.ReadAll(nc)
		if s := log.String(); strings.Contains(s, "panic") {
			t.Fatalf("server panicked on %q:\n%s", input, s)
		}
		for _, line := range strings.SplitAfter(string(out), "\n") {
			if line != "" && !strings.HasSuffix(line, "\r\n") {
				t.Fatalf("server wrote %q (no CRLF) for input %q", line, input)
			}
		}
	})
}
