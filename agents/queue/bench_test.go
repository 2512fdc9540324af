package queue

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPut measures durable Puts of 4 KiB messages: each writes and
// fsyncs a body and an envelope and fsyncs two directories.
func BenchmarkPut(b *testing.B) {
	benchPut(b, false)
}

// BenchmarkPutParallel is BenchmarkPut from GOMAXPROCS goroutines at once,
// as an MTA with several SMTP sessions.
func BenchmarkPutParallel(b *testing.B) {
	benchPut(b, true)
}

func benchPut(b *testing.B, parallel bool) {
	q, err := Open(Options{
		Dir:         b.TempDir(),
		MaxMessages: 1 << 30,
		Deliver:     func(context.Context, *Message, []byte, []string) []Result { return nil },
	})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Stop(context.Background())
	body := make([]byte, 4096)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	rcpts := []string{"bob@b.example"}
	var seq atomic.Int64
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	start := time.Now()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := q.Put(fmt.Sprint("B", seq.Add(1)), "alice@a.example", rcpts, body); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		for b.Loop() {
			if err := q.Put(fmt.Sprint("B", seq.Add(1)), "alice@a.example", rcpts, body); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(seq.Load())/time.Since(start).Seconds(), "msgs/s")
}
