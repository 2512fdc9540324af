package mailbox

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestDeliverBytes(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	parts := [][]byte{[]byte("Delivered-To: bob@b.test\r\n"), nil, []byte("Subject: hi\r\n\r\nbody\r\n")}
	d, err := s.DeliverBytes("bob@b.test", parts...)
	if err != nil {
		t.Fatal(err)
	}
	want := string(bytes.Join(parts, nil))
	if d.Size != int64(len(want)) || !strings.HasSuffix(d.Name, ",S="+strconv.Itoa(len(want))) {
		t.Errorf("Delivery = %+v, want size %d", d, len(want))
	}
	got, err := os.ReadFile(d.Path)
	if err != nil || string(got) != want {
		t.Errorf("file = %q, %v; want %q", got, err, want)
	}
	if filepath.Dir(d.Path) != filepath.Join(s.Root(), "b.test", "bob", "new") {
		t.Errorf("stored as %s", d.Path)
	}
	if string(parts[0]) != "Delivered-To: bob@b.test\r\n" {
		t.Errorf("the caller's parts changed: %q", parts[0])
	}
	// Nothing left in tmp/, no temporary Maildir left in the domain.
	if ents, _ := os.ReadDir(filepath.Join(s.Root(), "b.test", "bob", "tmp")); len(ents) != 0 {
		t.Errorf("tmp/ holds %v", ents)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Root(), "b.test")); len(ents) != 1 || ents[0].Name() != "bob" {
		t.Errorf("the domain directory holds %v, want bob only", ents)
	}
}

func TestAdvance(t *testing.T) {
	in := [][]byte{[]byte("abc"), []byte(""), []byte("de"), []byte("f")}
	for m, want := range []string{"abcdef", "bcdef", "cdef", "def", "ef", "f", ""} {
		got := advance(in, m)
		if string(bytes.Join(got, nil)) != want {
			t.Errorf("advance(%d) = %q, want %q", m, bytes.Join(got, nil), want)
		}
	}
	if string(in[0]) != "abc" || len(in) != 4 {
		t.Errorf("advance changed its argument: %q", in)
	}
}

// A Store keeps working after Close (its flushes open the root each time),
// and Close can be called twice.
func TestDeliverAfterClose(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.DeliverBytes("bob@b.test", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deliver("bob@b.test", strings.NewReader("y")); err != nil {
		t.Fatal(err)
	}
	if msgs, err := s.List("bob@b.test"); err != nil || len(msgs) != 2 {
		t.Fatalf("List = %v, %v", msgs, err)
	}
}

// A Maildir that exists without its subdirectories is completed, and one
// made by many deliveries at once is made once.
func TestMaildirCreation(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "b.test", "bob", "cur"), 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.DeliverBytes("bob@b.test", []byte("x")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		s2, err := Open(root) // a Store each: no shared "made" cache
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer s2.Close()
			if _, err := s2.DeliverBytes("carol@c.test", []byte("y")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if msgs, err := s.List("carol@c.test"); err != nil || len(msgs) != 8 {
		t.Errorf("carol: List = %d messages, %v; want 8", len(msgs), err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "c.test")); len(ents) != 1 || ents[0].Name() != "carol" {
		t.Errorf("c.test holds %v, want carol only", ents)
	}
}

// An entered delivery that never reaches a flush delays the others by the
// gather window at most: they are answered all the same.
func TestGroupSyncGatherIsBounded(t *testing.T) {
	g := newGroupSync()
	g.enter() // a delivery that stays busy
	g.enter()
	flushes := 0
	if err := g.wait(func() error { flushes++; return nil }); err != nil {
		t.Fatal(err)
	}
	g.leave()
	g.leave()
	if flushes != 1 {
		t.Errorf("%d flushes, want 1", flushes)
	}
}

// Deliveries that enter are all covered by a flush that started after
// their writes, gathered or not.
func TestGroupSyncGatherCoversEveryWriter(t *testing.T) {
	g := newGroupSync()
	var mu sync.Mutex
	written := map[int]bool{}
	durable := map[int]bool{}
	flush := func() error {
		mu.Lock()
		for k := range written {
			durable[k] = true
		}
		mu.Unlock()
		return nil
	}
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Go(func() {
			g.enter()
			defer g.leave()
			for phase := 0; phase < 2; phase++ {
				key := 2*i + phase
				mu.Lock()
				written[key] = true
				mu.Unlock()
				if err := g.wait(flush); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ok := durable[key]
				mu.Unlock()
				if !ok {
					t.Errorf("writer %d returned before a flush covered its write", key)
				}
			}
		})
	}
	wg.Wait()
}
