package netconntest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/maillab/maillab/protocols/wire"
)

// recorder is a testing.TB that keeps what Errorf reports.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

const script = `
	S: + ready
	C: HELLO
	S:
	...`

// play reads the greeting, writes client, reads the empty line and writes
// rest, as a client would.
func play(t *testing.T, conn net.Conn, client, rest string) {
	br := bufio.NewReader(conn)
	expect := func(want string) {
		t.Helper()
		if got, err := br.ReadString('\n'); got != want || err != nil {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	expect("+ ready\r\n")
	io.WriteString(conn, client)
	expect("\r\n")
	io.WriteString(conn, rest)
}

func TestPeer(t *testing.T) {
	for _, tt := range []struct {
		name, client, rest string
		errors             []string
	}{
		{"match", "HELLO\r\n", "", nil},
		{"bare LF and more", "HELLO\n", "QUIT\r\n", []string{"client wrote (-want +got):\n" + cmp.Diff("HELLO\r\n", "HELLO\nQUIT\r\n")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, p := StartPeer(t, script)
			play(t, conn, tt.client, tt.rest)
			rec := &recorder{TB: t}
			p.t = rec
			p.Check(conn)
			if diff := cmp.Diff(tt.errors, rec.errors); diff != "" {
				t.Errorf("Check reported (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTapConn(t *testing.T) {
	conn, p := StartPeer(t, "S: + ready\nC: secret")
	tap := &TapConn{Conn: conn}
	tr := wire.TracerOf(tap)
	bufio.NewReader(tap).ReadString('\n')
	tr.Mark(wire.ClientToServer, wire.MarkSecret)
	io.WriteString(tap, "secret\r\n")
	p.Check(conn)
	want := []string{fmt.Sprintf("mark C %d", wire.MarkSecret), "write secret\r\n"}
	if diff := cmp.Diff(want, tap.Events()); diff != "" {
		t.Errorf("Events (-want +got):\n%s", diff)
	}
}
