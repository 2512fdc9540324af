package pop3client_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maillab/maillab/protocols/pop3"
	"github.com/maillab/maillab/protocols/pop3/pop3client"
	"github.com/maillab/maillab/protocols/pop3/pop3server"
	"golang.org/x/net/nettest"
)

// serve starts a pop3server with b on loopback until the test ends.
func serve(tb testing.TB, b pop3server.Backend) string {
	tb.Helper()
	l, err := nettest.NewLocalListener("tcp")
	if err != nil {
		tb.Fatal(err)
	}
	srv := pop3server.New(pop3server.Options{AuthFailDelay: -1, MaxConns: 1000}, b)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			tb.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String()
}

func dial(tb testing.TB, addr string) *pop3client.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pop3client.Dial(ctx, nil, addr, pop3client.Options{Timeout: time.Minute})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func TestEndToEndAgainstPOP3Server(t *testing.T) {
	b := &pop3server.MemoryBackend{}
	b.AddUser("bob", "secret")
	b.Deliver("bob", []byte("Subject: one\n\nfirst\n"))
	b.Deliver("bob", []byte("Subject: two\n\n.hidden dot\nlast\n"))
	addr := serve(t, b)

	c := dial(t, addr)
	if err := c.Login("bob", "wrong"); !errors.Is(err, pop3.ErrAuth) {
		t.Fatalf("Login with a wrong password: %v, want [AUTH]", err)
	}
	if err := c.APOP("bob", "secret"); err != nil {
		t.Fatalf("APOP: %v", err)
	}
	if err := dial(t, addr).Login("bob", "secret"); !errors.Is(err, pop3.ErrInUse) {
		t.Errorf("second login while locked: %v, want [IN-USE]", err)
	}
	n, size, err := c.Stat()
	if err != nil || n != 2 {
		t.Fatalf("Stat = %d, %d, %v", n, size, err)
	}
	list, err := c.List()
	if err != nil || len(list) != 2 || list[0].Size+list[1].Size != size {
		t.Errorf("List = %v, %v; sizes should add up to STAT's %d", list, err, size)
	}
	msg, err := c.Retr(2)
	if err != nil || string(msg) != "Subject: two\r\n\r\n.hidden dot\r\nlast\r\n" {
		t.Errorf("Retr(2) = %q, %v", msg, err)
	}
	if int64(len(msg)) != list[1].Size {
		t.Errorf("RETR gave %d octets, LIST said %d", len(msg), list[1].Size)
	}
	top, err := c.Top(2, 1)
	if err != nil || string(top) != "Subject: two\r\n\r\n.hidden dot\r\n" {
		t.Errorf("Top(2, 1) = %q, %v", top, err)
	}
	uids, err := c.UIDL()
	if err != nil || len(uids) != 2 {
		t.Errorf("UIDL = %v, %v", uids, err)
	}
	if err := c.Dele(1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Retr(1); err == nil || !strings.Contains(err.Error(), "already deleted") {
		t.Errorf("Retr of a deleted message: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	if got := b.Messages("bob"); len(got) != 1 || !bytes.HasPrefix(got[0], []byte("Subject: two")) {
		t.Errorf("after QUIT the maildrop holds %q, want message two only", got)
	}
}

// BenchmarkLogin measures whole sessions: connect, greeting, USER/PASS
// (taking the maildrop lock), QUIT. Each parallel worker has its own user,
// so workers do not fight over one lock.
func BenchmarkLogin(b *testing.B) {
	be := &pop3server.MemoryBackend{}
	addr := serve(b, be)
	var worker atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		user := "user" + strconv.FormatInt(worker.Add(1), 10)
		be.AddUser(user, "pw")
		for pb.Next() {
			c, err := pop3client.Dial(context.Background(), nil, addr, pop3client.Options{})
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Login(user, "pw"); err != nil {
				b.Fatal(err)
			}
			if err := c.Quit(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}

// BenchmarkRetr measures RETR of a 1 MiB message of 76-octet lines (some
// starting with a dot), dot-stuffed by the server and unstuffed by the
// client, in one session.
func BenchmarkRetr(b *testing.B) {
	be := &pop3server.MemoryBackend{}
	be.AddUser("bob", "pw")
	var msg bytes.Buffer
	msg.WriteString("Subject: big\r\n\r\n")
	for i := 0; msg.Len() < 1<<20; i++ {
		if i%10 == 0 {
			msg.WriteString(".")
		}
		msg.WriteString(strings.Repeat("x", 73) + "\r\n")
	}
	be.Deliver("bob", msg.Bytes())
	addr := serve(b, be)
	c := dial(b, addr)
	if err := c.Login("bob", "pw"); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(msg.Len()))
	b.ResetTimer()
	for b.Loop() {
		got, err := c.Retr(1)
		if err != nil || len(got) != msg.Len() {
			b.Fatalf("Retr: %d octets, %v", len(got), err)
		}
	}
}
