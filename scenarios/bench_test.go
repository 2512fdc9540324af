package scenarios

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/maillab/maillab/agents/mua"
	"github.com/maillab/maillab/transcripts"
)

// BenchmarkDelivery measures mail through the two-domains lab, end to
// end, on real sockets and a real Maildir with fsync:
//
//   - same-domain: alice -> mx.a.example -> (LMTP) -> alice@a.example, the
//     reference: one MTA, the 250 after the MDA has stored the message;
//   - two-domains: alice -> mx.a.example (queue, fsync) -> DNS MX and A
//     lookups -> mx.b.example -> (LMTP) -> bob@b.example.
//
// It reports delivered messages per second with 4 senders at once, and
// the time from the start of the SMTP session to the file in the Maildir
// for single messages sent one after another (ms/delivery, the median).
//
//	go test -run '^$' -bench Delivery -benchtime 200x ./scenarios
func BenchmarkDelivery(b *testing.B) {
	sc, err := Load("two-domains")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	lab, err := Start(ctx, sc, Options{Dir: b.TempDir(), Recorder: transcripts.NewRecorder(transcripts.Options{MaxEvents: -1})})
	if err != nil {
		b.Fatal(err)
	}
	defer lab.Stop(ctx)
	sender := lab.muas["alice-laptop"]
	server, err := lab.endpoint("mx.a.example", "smtp")
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, to string }{
		{"same-domain", "alice@a.example"},
		{"two-domains", "bob@b.example"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			count := func() int {
				msgs, err := lab.store.List(tc.to)
				if err != nil {
					b.Fatal(err)
				}
				return len(msgs)
			}
			waitFor := func(n int) {
				deadline := time.Now().Add(2 * time.Minute)
				for count() < n {
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d messages arrived", count(), n)
					}
					time.Sleep(time.Millisecond)
				}
			}
			send := func(i int) {
				d := mua.Draft{From: "alice@a.example", To: []string{tc.to}, Subject: fmt.Sprintf("bench %d", i), Body: "Hello, this is a benchmark message.\n"}
				if _, err := sender.Send(ctx, server, d); err != nil {
					b.Error(err)
				}
			}
			start := count()
			b.ResetTimer()
			var wg sync.WaitGroup
			next := make(chan int)
			for range 4 {
				wg.Go(func() {
					for i := range next {
						send(i)
					}
				})
			}
			for i := range b.N {
				next <- i
			}
			close(next)
			wg.Wait()
			waitFor(start + b.N)
			elapsed := b.Elapsed()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")

			// Latency: one message at a time, from the session's start to
			// the file in the Maildir.
			var lat []time.Duration
			for i := range 20 {
				have := count()
				t0 := time.Now()
				send(i)
				waitFor(have + 1)
				lat = append(lat, time.Since(t0))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms/delivery")
		})
	}
}
