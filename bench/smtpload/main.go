// Command smtpload sends messages to an SMTP server from several concurrent
// sessions and reports the accepted rate. It is the load generator of
// bench/run.sh; it speaks just enough SMTP (EHLO, pipelined MAIL/RCPT/DATA,
// QUIT) to measure a server, and is independent of maillab's own client so
// that a bug there cannot flatter the figures.
//
// The load is bounded both in count (-n) and in time (-max-time).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2525", "SMTP server HOST:PORT (loopback only)")
	conc := flag.Int("c", 10, "concurrent sessions")
	n := flag.Int("n", 5000, "messages to send in all")
	perConn := flag.Int("per-conn", 1, "messages per connection (1: a new connection for each message)")
	size := flag.Int("size", 1024, "approximate message size in bytes")
	from := flag.String("from", "alice@example.test", "envelope sender")
	to := flag.String("to", "bob@example.test", "envelope recipient")
	maxTime := flag.Duration("max-time", 60*time.Second, "stop after this long whatever the count")
	flag.Parse()

	host, _, err := net.SplitHostPort(*addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		fmt.Fprintf(os.Stderr, "smtpload: -addr %q: only loopback addresses may be loaded\n", *addr)
		os.Exit(2)
	}
	msg := makeMessage(*from, *to, *size)
	ctx, cancel := context.WithTimeout(context.Background(), *maxTime)
	defer cancel()

	var next, sent, failed atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < *conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil {
				k := int(next.Add(int64(*perConn)))
				batch := *perConn
				if over := k - *n; over > 0 {
					batch -= over
				}
				if batch <= 0 {
					break
				}
				ds, err := session(ctx, *addr, *from, *to, msg, batch)
				mine = append(mine, ds...)
				sent.Add(int64(len(ds)))
				if err != nil {
					failed.Add(int64(batch - len(ds)))
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(float64(len(lat)-1)*p)]
	}
	fmt.Printf("sessions=%d per_conn=%d size=%d sent=%d failed=%d seconds=%.2f rate=%.0f msg/s p50=%v p99=%v\n",
		*conc, *perConn, len(msg), sent.Load(), failed.Load(), elapsed.Seconds(),
		float64(sent.Load())/elapsed.Seconds(), pct(0.5).Round(time.Microsecond), pct(0.99).Round(time.Microsecond))
	if firstErr != nil {
		fmt.Fprintf(os.Stderr, "smtpload: first error: %v\n", firstErr)
		os.Exit(1)
	}
}

func makeMessage(from, to string, size int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: load\r\nMessage-ID: <load@smtpload.test>\r\n\r\n", from, to)
	for b.Len() < size {
		b.WriteString("The quick brown fox jumps over the lazy dog, again and again and again.\r\n")
	}
	b.WriteString(".\r\n")
	return []byte(b.String())
}

// session opens one connection and sends count messages, returning the time
// each took from MAIL to the final 250.
func session(ctx context.Context, addr, from, to string, msg []byte, count int) ([]time.Duration, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	if err := expect(r, 1, "220"); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "EHLO smtpload.test\r\n")
	if err := w.Flush(); err != nil {
		return nil, err
	}
	if err := expect(r, 1, "250"); err != nil {
		return nil, err
	}
	var ds []time.Duration
	for i := 0; i < count; i++ {
		t0 := time.Now()
		fmt.Fprintf(w, "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n", from, to)
		if err := w.Flush(); err != nil {
			return ds, err
		}
		if err := expect(r, 2, "250"); err != nil {
			return ds, err
		}
		if err := expect(r, 1, "354"); err != nil {
			return ds, err
		}
		if _, err := w.Write(msg); err != nil {
			return ds, err
		}
		if err := w.Flush(); err != nil {
			return ds, err
		}
		if err := expect(r, 1, "250"); err != nil {
			return ds, err
		}
		ds = append(ds, time.Since(t0))
	}
	fmt.Fprintf(w, "QUIT\r\n")
	_ = w.Flush()
	_ = expect(r, 1, "221")
	return ds, nil
}

// expect reads n complete replies and checks each starts with code.
func expect(r *bufio.Reader, n int, code string) error {
	for i := 0; i < n; i++ {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if !strings.HasPrefix(line, code) {
				return errors.New("unexpected reply: " + strings.TrimSpace(line))
			}
			if len(line) < 4 || line[3] != '-' {
				break
			}
		}
	}
	return nil
}
