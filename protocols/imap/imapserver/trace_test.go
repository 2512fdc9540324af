package imapserver

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/maillab/maillab/protocols/wire"
)

// traceConn is the server's end of a connection as the transcript tap sees
// it: it counts the bytes and the writes the server makes and keeps the
// server-to-client marks at the byte position where they take effect, as
// the tap does (transcripts.Conn.Mark).
type traceConn struct {
	net.Conn
	mu      sync.Mutex
	out     bytes.Buffer // everything written, unless count
	n       int          // bytes written
	count   bool         // only count the bytes and writes, for benchmarks
	writes  int
	marks   []posMark
	aheadOK bool // MarkAhead was used
}

type posMark struct {
	pos int
	m   wire.Mark
}

func (c *traceConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if !c.count {
		c.out.Write(p)
	}
	c.n += len(p)
	c.writes++
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *traceConn) State(from, to string) {}
func (c *traceConn) Note(text string)      {}
func (c *traceConn) QueueID(id string)     {}

func (c *traceConn) Mark(d wire.Direction, m wire.Mark) { c.mark(d, 0, m) }

func (c *traceConn) mark(d wire.Direction, ahead int64, m wire.Mark) {
	if d != wire.ServerToClient {
		return
	}
	c.mu.Lock()
	if !c.count {
		c.marks = append(c.marks, posMark{c.n + int(ahead), m})
	}
	c.mu.Unlock()
}

// aheadConn is a traceConn that also takes marks ahead of what was
// written, as transcripts.Conn.MarkAhead does.
type aheadConn struct{ *traceConn }

func (c aheadConn) MarkAhead(d wire.Direction, ahead int64, m wire.Mark) {
	c.mu.Lock()
	c.aheadOK = true
	c.mu.Unlock()
	c.mark(d, ahead, m)
}

// bulkLines returns the lines the server wrote, each prefixed "B " when a
// transcript would show it as bulk (the mark in force at its first byte),
// "  " otherwise, and the number of writes.
func (c *traceConn) bulkLines() ([]string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var lines []string
	cur, next := wire.MarkNone, 0
	data := c.out.Bytes()
	for pos := 0; pos < len(data); {
		for next < len(c.marks) && c.marks[next].pos <= pos {
			cur = c.marks[next].m
			next++
		}
		end := bytes.IndexByte(data[pos:], '\n')
		if end < 0 {
			end = len(data) - pos - 1
		}
		prefix := "  "
		if cur == wire.MarkBulk {
			prefix = "B "
		}
		lines = append(lines, prefix+strings.TrimRight(string(data[pos:pos+end+1]), "\r\n"))
		pos += end + 1
	}
	return lines, c.writes
}

// traceListener hands out traceConns (aheadConns with ahead).
type traceListener struct {
	net.Listener
	ahead bool
	count bool // traceConns only count
	mu    sync.Mutex
	conns []*traceConn
}

func (l *traceListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &traceConn{Conn: nc, count: l.count}
	l.mu.Lock()
	l.conns = append(l.conns, tc)
	l.mu.Unlock()
	if l.ahead {
		return aheadConn{tc}, nil
	}
	return tc, nil
}

func (l *traceListener) last() *traceConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns[len(l.conns)-1]
}

// startTracedServer is startServer with a traceListener.
func startTracedServer(t testing.TB, b Backend, ahead, count bool) (*traceListener, string) {
	t.Helper()
	l, addr := listen(t)
	tl := &traceListener{Listener: l, ahead: ahead, count: count}
	serve(t, Options{}, b, tl)
	return tl, addr
}

// TestFetchMarksLiteralsBulk checks that exactly the octets of FETCH
// literals are marked bulk, whether the marks go ahead of the buffered
// output (MarkAhead) or the output is flushed around each literal (Mark),
// and that MarkAhead saves the writes.
func TestFetchMarksLiteralsBulk(t *testing.T) {
	msg := "From: a@a.test\r\nSubject: hi\r\n\r\nline 1\r\nline 2\r\n"
	var writes [2]int
	for i, ahead := range []bool{false, true} {
		t.Run("ahead="+strconv.FormatBool(ahead), func(t *testing.T) {
			b := NewMemoryBackend()
			b.AddUser("bob", "secret")
			// 40 messages: 160 marks, more than the tap keeps waiting.
			for range 40 {
				b.Deliver("bob", "INBOX", []byte(msg))
			}
			tl, addr := startTracedServer(t, b, ahead, false)
			tc := selectedInbox(t, addr)
			tc.send("f FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT]<0.4>)")
			tc.until("f OK")
			tc.send("z LOGOUT")
			tc.until("z OK")
			tc.expectClosed()
			lines, n := tl.last().bulkLines()
			var got []string
			for _, l := range lines {
				if len(got) > 0 || strings.HasPrefix(l, "  * 1 FETCH") {
					got = append(got, l)
				}
				if strings.HasPrefix(l, "  f ") {
					break
				}
			}
			var want []string
			for seq := 1; seq <= 40; seq++ {
				want = append(want,
					"  * "+strconv.Itoa(seq)+" FETCH (UID "+strconv.Itoa(seq)+" BODY[HEADER.FIELDS (SUBJECT)] {15}",
					"B Subject: hi",
					"B ",
					// The literal ends inside a line: the transcript shows
					// the line by its start.
					"   BODY[TEXT]<0> {4}",
					"B line)")
			}
			want = append(want, "  f OK FETCH completed")
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("transcript lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if tl.last().aheadOK != ahead {
				t.Errorf("MarkAhead used: %v, want %v", tl.last().aheadOK, ahead)
			}
			writes[i] = n
		})
	}
	t.Logf("%d writes with MarkAhead, %d without", writes[1], writes[0])
	if writes[1] >= writes[0] {
		t.Errorf("%d writes with MarkAhead, %d without: want fewer", writes[1], writes[0])
	}
}

// BenchmarkFetchHeaders1000Traced is BenchmarkFetchHeaders1000 with a
// transcript tap on the connection, as maillab up always has: with marks
// placed ahead (MarkAhead) and with flushes around each literal.
func BenchmarkFetchHeaders1000Traced(b *testing.B) {
	for _, ahead := range []bool{false, true} {
		b.Run("ahead="+strconv.FormatBool(ahead), func(b *testing.B) {
			tl, addr := startTracedServer(b, newBackend(b, 1000), ahead, true)
			tc := selectedInbox(b, addr)
			tr := tl.last()
			tr.mu.Lock()
			before := tr.writes
			tr.mu.Unlock()
			for b.Loop() {
				tc.send("f FETCH 1:1000 (BODY.PEEK[HEADER])")
				tc.until("f OK")
			}
			tr.mu.Lock()
			b.ReportMetric(float64(tr.writes-before)/float64(b.N), "writes/op")
			tr.mu.Unlock()
		})
	}
}
