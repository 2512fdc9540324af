package imapserver

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
)

// BenchmarkFetchHeaders1000 fetches the headers of 1,000 messages with one
// command, as a client filling its message list does.
func BenchmarkFetchHeaders1000(b *testing.B) {
	_, addr := startServer(b, Options{}, newBackend(b, 1000))
	tc := selectedInbox(b, addr)
	b.SetBytes(1000 * int64(len(headerPart)))
	for b.Loop() {
		tc.send("f FETCH 1:1000 (BODY.PEEK[HEADER])")
		tc.until("f OK")
	}
}

// BenchmarkSearch10000 searches 10,000 messages by a header and by a flag.
func BenchmarkSearch10000(b *testing.B) {
	be := NewMemoryBackend()
	be.AddUser("bob", "secret")
	for i := range 10000 {
		from := "carol@example.test"
		if i%100 == 0 {
			from = "alice@example.test"
		}
		be.Deliver("bob", "INBOX", []byte(strings.Replace(testMessage, "alice@example.test", from, 1)))
	}
	_, addr := startServer(b, Options{}, be)
	tc := selectedInbox(b, addr)
	for _, bc := range []struct{ name, criteria string }{{"Header", `FROM "alice"`}, {"Flag", "UNSEEN"}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				tc.send("s SEARCH " + bc.criteria)
				tc.until("s OK")
			}
		})
	}
}

// BenchmarkLogin measures connect, greeting, LOGIN and LOGOUT.
func BenchmarkLogin(b *testing.B) {
	_, addr := startServer(b, Options{MaxConns: 1000}, newBackend(b, 0))
	for b.Loop() {
		tc := loggedIn(b, addr)
		tc.send("z LOGOUT")
		tc.until("z OK")
		tc.c.Close()
	}
}

// BenchmarkIdleConnMemory opens 1,000 connections that sit after the
// greeting and reports the heap and stack growth per connection (the
// client ends of the connections, in the same process, are counted too).
// Later iterations reuse goroutine stacks the earlier ones freed, so the
// figure reported is the largest, that of a fresh process.
func BenchmarkIdleConnMemory(b *testing.B) {
	const n = 1000
	var worst float64
	defer func() { b.ReportMetric(worst, "bytes/conn") }()
	for b.Loop() {
		_, addr := startServer(b, Options{MaxConns: n + 10}, newBackend(b, 0))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		conns := make([]net.Conn, 0, n)
		buf := make([]byte, 256)
		for range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
			// Read the greeting: the session is then blocked reading.
			if _, err := io.ReadAtLeast(c, buf, 5); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		used := (after.HeapInuse + after.StackInuse) - (before.HeapInuse + before.StackInuse)
		worst = max(worst, float64(int64(used))/n)
		for _, c := range conns {
			c.Close()
		}
	}
}

func ExampleMemoryBackend() {
	b := NewMemoryBackend()
	b.AddUser("bob", "secret")
	uid, _ := b.Deliver("bob", "INBOX", []byte("Subject: hi\r\n\r\nhello\r\n"))
	fmt.Println(uid)
	// Output: 1
}

// BenchmarkIdleSelectedMemory opens 500 sessions that log in, select a
// 1,000-message INBOX and IDLE, and reports the heap and stack growth per
// session (client ends included, as in BenchmarkIdleConnMemory; the
// MemoryBackend's handles too, which keep no per-message state).
func BenchmarkIdleSelectedMemory(b *testing.B) {
	const n, msgs = 500, 1000
	var worst float64
	defer func() { b.ReportMetric(worst, "bytes/session") }()
	for b.Loop() {
		_, addr := startServer(b, Options{MaxConns: n + 10}, newBackend(b, msgs))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		conns := make([]net.Conn, 0, n)
		for range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
			if _, err := io.WriteString(c, "a LOGIN bob secret\r\nb SELECT INBOX\r\nc IDLE\r\n"); err != nil {
				b.Fatal(err)
			}
			// Read up to "+ idling": the session is then waiting in IDLE.
			var got []byte
			buf := make([]byte, 4096)
			for !strings.Contains(string(got), "+ idling\r\n") {
				k, err := c.Read(buf)
				if err != nil {
					b.Fatal(err)
				}
				got = append(got, buf[:k]...)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		used := (after.HeapInuse + after.StackInuse) - (before.HeapInuse + before.StackInuse)
		worst = max(worst, float64(int64(used))/n)
		b.ReportMetric(float64(int64(after.StackInuse)-int64(before.StackInuse))/n, "stack/session")
		for _, c := range conns {
			c.Close()
		}
	}
}
