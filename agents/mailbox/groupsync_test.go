package mailbox

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// Every caller must be covered by a flush that started after its own write:
// the flush snapshots what was written when it starts, and each caller
// checks that its write is in the snapshot that made it return.
func TestGroupSyncCoversEveryWriter(t *testing.T) {
	g := newGroupSync()
	var mu sync.Mutex
	written := map[int]bool{}
	durable := map[int]bool{}
	flushes := 0
	flush := func() error {
		mu.Lock()
		flushes++
		snap := make(map[int]bool, len(written))
		for k := range written {
			snap[k] = true
		}
		mu.Unlock()
		mu.Lock()
		for k := range snap {
			durable[k] = true
		}
		mu.Unlock()
		return nil
	}
	const writers = 64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			written[i] = true
			mu.Unlock()
			if err := g.wait(flush); err != nil {
				errs <- err
				return
			}
			mu.Lock()
			ok := durable[i]
			mu.Unlock()
			if !ok {
				errs <- fmt.Errorf("writer %d returned before a flush covered its write", i)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if flushes > writers {
		t.Errorf("%d flushes for %d writers: group commit should never flush more than once per writer", flushes, writers)
	}
}

func TestGroupSyncReportsTheFlushError(t *testing.T) {
	g := newGroupSync()
	boom := errors.New("disk on fire")
	if err := g.wait(func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("wait = %v, want the flush's error", err)
	}
	if err := g.wait(func() error { return nil }); err != nil {
		t.Fatalf("a later good flush still reports %v", err)
	}
}

// BenchmarkDeliverParallel delivers from 10 goroutines at once, as an MDA
// does for 10 SMTP sessions: with group commit, concurrent deliveries share
// their flushes.
func BenchmarkDeliverParallel(b *testing.B) {
	msg := bytes.Repeat([]byte("a line of a message body, about 60 octets long...........\r\n"), 50)
	for _, nosync := range []bool{false, true} {
		b.Run(fmt.Sprintf("sync=%v", !nosync), func(b *testing.B) {
			s, err := OpenWith(b.TempDir(), Options{NoSync: nosync})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(msg)))
			b.SetParallelism(5) // 5 × GOMAXPROCS(2) = 10 concurrent deliveries
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Deliver("bob@b.test", bytes.NewReader(msg)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
