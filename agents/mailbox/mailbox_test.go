package mailbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func fixedStore(t testing.TB, opts Options) *Store {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Unix(1767225600, 123456000) }
	}
	if opts.Hostname == "" {
		opts.Hostname = "mda.b.test"
	}
	if opts.PID == 0 {
		opts.PID = 4321
	}
	s, err := OpenWith(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestDeliverWritesIntoNew(t *testing.T) {
	s := fixedStore(t, Options{})
	msg := "Subject: hi\r\n\r\nhello\r\n"
	d, err := s.Deliver("Bob@B.test", strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^1767225600\.M123456P4321Q\d+\.mda\.b\.test,S=22$`)
	if !re.MatchString(d.Name) {
		t.Errorf("name %q does not match %v", d.Name, re)
	}
	if d.Size != int64(len(msg)) {
		t.Errorf("size = %d", d.Size)
	}
	want := filepath.Join(s.Root(), "b.test", "bob", "new", d.Name)
	if d.Path != want {
		t.Errorf("path = %q, want %q", d.Path, want)
	}
	got, err := os.ReadFile(d.Path)
	if err != nil || string(got) != msg {
		t.Errorf("file = %q, %v", got, err)
	}
	if n := dirNames(t, filepath.Join(s.Root(), "b.test", "bob", "tmp")); len(n) != 0 {
		t.Errorf("tmp/ not empty: %q", n)
	}
	info, err := os.Stat(filepath.Join(s.Root(), "b.test", "bob", "cur"))
	if err != nil || !info.IsDir() || info.Mode().Perm() != 0o700 {
		t.Errorf("cur/: %v %v", info, err)
	}
}

func TestHostnameEscaped(t *testing.T) {
	s := fixedStore(t, Options{Hostname: "weird/host:1"})
	d, err := s.Deliver("a@a.test", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.Name, `.weird\057host\0721,S=1`) {
		t.Errorf("name %q: host not escaped", d.Name)
	}
}

type failingReader struct {
	data string
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestDeliverShortReadLeavesNothing(t *testing.T) {
	for _, rerr := range []error{io.ErrUnexpectedEOF, errors.New("connection reset")} {
		s := fixedStore(t, Options{})
		_, err := s.Deliver("bob@b.test", &failingReader{data: "Subject: half\r\n", err: rerr})
		if !errors.Is(err, rerr) {
			t.Fatalf("err = %v, want %v", err, rerr)
		}
		if !strings.HasPrefix(err.Error(), "mailbox: ") {
			t.Errorf("error %q lacks prefix", err)
		}
		dir, _ := s.Maildir("bob@b.test")
		for _, sub := range []string{"new", "tmp", "cur"} {
			if n := dirNames(t, filepath.Join(dir, sub)); len(n) != 0 {
				t.Errorf("%s/ holds %q after a failed delivery", sub, n)
			}
		}
		if msgs, _ := s.List("bob@b.test"); len(msgs) != 0 {
			t.Errorf("List = %v", msgs)
		}
	}
}

func TestBadAddressesRefused(t *testing.T) {
	s := fixedStore(t, Options{})
	for _, addr := range []string{
		"../../etc@a.test",
		"bob@../..",
		"bob@..",
		"..@a.test",
		".@a.test",
		"a/b@a.test",
		`a\b@a.test`,
		"bob@a.test/../../x",
		"bob\x00@a.test",
		"bob@",
		"@a.test",
		"no-at-sign",
		"",
		".hidden@a.test",
		strings.Repeat("x", 65) + "@a.test",
		"bob@a\nb.test",
	} {
		if _, err := s.Deliver(addr, strings.NewReader("x")); !errors.Is(err, ErrBadAddress) {
			t.Errorf("Deliver(%q) err = %v, want ErrBadAddress", addr, err)
		}
		if _, err := s.List(addr); !errors.Is(err, ErrBadAddress) {
			t.Errorf("List(%q) err = %v", addr, err)
		}
	}
	// Nothing was created outside or inside the root.
	if n := dirNames(t, s.Root()); len(n) != 0 {
		t.Errorf("root holds %q", n)
	}
}

func TestListOrderAndFlags(t *testing.T) {
	var mu sync.Mutex
	clock := time.Unix(1767225600, 0)
	s := fixedStore(t, Options{Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}})
	var names []string
	for i := range 3 {
		d, err := s.Deliver("bob@b.test", strings.NewReader(fmt.Sprintf("msg %d", i)))
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, d.Name)
	}
	dir, _ := s.Maildir("bob@b.test")
	// A reader moved the second message to cur/ and flagged it.
	seen := names[1] + ":2,FS"
	if err := os.Rename(filepath.Join(dir, "new", names[1]), filepath.Join(dir, "cur", seen)); err != nil {
		t.Fatal(err)
	}
	// Dot files are ignored.
	if err := os.WriteFile(filepath.Join(dir, "new", ".junk"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.List("BOB@b.test")
	if err != nil {
		t.Fatal(err)
	}
	want := []Message{
		{Name: names[0], Path: filepath.Join(dir, "new", names[0]), Dir: "new", Size: 5},
		{Name: seen, Path: filepath.Join(dir, "cur", seen), Dir: "cur", Size: 5, Flags: "FS"},
		{Name: names[2], Path: filepath.Join(dir, "new", names[2]), Dir: "new", Size: 5},
	}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	body, err := s.Read(msgs[1])
	if err != nil || string(body) != "msg 1" {
		t.Errorf("Read = %q, %v", body, err)
	}
	if empty, err := s.List("nobody@b.test"); err != nil || len(empty) != 0 {
		t.Errorf("List(nobody) = %v, %v", empty, err)
	}
}

func TestReadAndHeader(t *testing.T) {
	s := fixedStore(t, Options{})
	if _, err := s.Deliver("bob@b.test", strings.NewReader("Subject: =?UTF-8?q?Reuni=C3=B3n?=\r\nX: 1\r\n\r\nbody")); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.List("bob@b.test")
	if err != nil || len(msgs) != 1 {
		t.Fatalf("List = %v, %v", msgs, err)
	}
	h, err := s.Header(msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Get("subject"); got != "=?UTF-8?q?Reuni=C3=B3n?=" {
		t.Errorf("Subject = %q", got)
	}
	// A Message pointing outside the store is refused.
	outside := Message{Name: "passwd", Path: filepath.Join(s.Root(), "..", "passwd")}
	if _, err := s.Read(outside); err == nil {
		t.Error("Read outside the root succeeded")
	}
	if _, err := s.Header(Message{Path: "/etc/passwd"}); err == nil {
		t.Error("Header outside the root succeeded")
	}
}

func TestConcurrentDeliveriesGetUniqueNames(t *testing.T) {
	// Two stores on one root, same clock, host and pid: names must still
	// differ.
	root := t.TempDir()
	opts := Options{Now: func() time.Time { return time.Unix(1767225600, 0) }, Hostname: "h", PID: 1}
	s1, err := OpenWith(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := OpenWith(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range 2 * n {
		s := s1
		if i%2 == 1 {
			s = s2
		}
		wg.Go(func() {
			_, err := s.Deliver("bob@b.test", strings.NewReader(fmt.Sprintf("message %03d", i)))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := s1.List("bob@b.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2*n {
		t.Fatalf("%d messages stored, want %d", len(msgs), 2*n)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		b, err := s1.Read(m)
		if err != nil {
			t.Fatal(err)
		}
		if seen[string(b)] {
			t.Errorf("message %q stored twice", b)
		}
		seen[string(b)] = true
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(file, "sub")); err == nil {
		t.Error("Open below a file succeeded")
	}
}

func BenchmarkDeliver(b *testing.B) {
	msg := bytes.Repeat([]byte("a line of a message body, about 60 octets long...........\r\n"), 50)
	for _, sync := range []bool{true, false} {
		b.Run(fmt.Sprintf("sync=%v", sync), func(b *testing.B) {
			s, err := OpenWith(b.TempDir(), Options{NoSync: !sync})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				if _, err := s.Deliver("bob@b.test", bytes.NewReader(msg)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func FuzzMaildir(f *testing.F) {
	for _, seed := range []string{"bob@b.test", "../x@b.test", "a@..", "a/b@c", "@", "x@y@z", "BOB@B.TEST", ".a@b", "a@b\x00"} {
		f.Add(seed)
	}
	s, err := Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		dir, err := s.Maildir(addr)
		if err != nil {
			if !errors.Is(err, ErrBadAddress) {
				t.Fatalf("Maildir(%q): %v is not ErrBadAddress", addr, err)
			}
			return
		}
		rel, err := filepath.Rel(s.Root(), dir)
		if err != nil || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) {
			t.Fatalf("Maildir(%q) = %q escapes the root", addr, dir)
		}
		// Exactly two levels below the root: <domain>/<local>.
		if parts := strings.Split(rel, string(filepath.Separator)); len(parts) != 2 {
			t.Fatalf("Maildir(%q) = %q is not <domain>/<local>", addr, rel)
		}
	})
}
