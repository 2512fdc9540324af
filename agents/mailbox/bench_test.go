package mailbox

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bigFolder makes an INBOX of n messages already numbered (one Select).
func bigFolder(b *testing.B, n int) (*Store, *User) {
	b.Helper()
	s := fixedStore(b, Options{NoSync: true})
	u := newUser(b, s, "bob@b.test")
	body := bytes.Repeat([]byte("x"), 2000)
	cur := filepath.Join(u.Dir(), "cur")
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("1767225600.M%dP1Q%d.mda.b.test,S=2000:2,S", i, i)
		if err := os.WriteFile(filepath.Join(cur, name), body, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	// As if delivered a while ago: the directories' times have settled
	// (see dirSettle), as they have in a mailbox read long after delivery.
	old := time.Now().Add(-time.Hour)
	for _, sub := range []string{"cur", "new"} {
		if err := os.Chtimes(filepath.Join(u.Dir(), sub), old, old); err != nil {
			b.Fatal(err)
		}
	}
	v, err := u.Select("INBOX", false)
	if err != nil {
		b.Fatal(err)
	}
	v.Close()
	return s, u
}

// BenchmarkScan is what STATUS, NOOP and a resync cost: reading the two
// directories of a 10,000-message folder and reconciling the UID list.
func BenchmarkScan(b *testing.B) {
	_, u := bigFolder(b, 10000)
	f, err := u.Folder("INBOX")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("status", func(b *testing.B) {
		for b.Loop() {
			if st, err := f.Status(); err != nil || st.Messages != 10000 {
				b.Fatal(st, err)
			}
		}
	})
	b.Run("select", func(b *testing.B) {
		for b.Loop() {
			v, err := u.Select("INBOX", false)
			if err != nil || len(v.Messages()) != 10000 {
				b.Fatal(err)
			}
			v.Close()
		}
	})
	// First read after a restart: the UID list is parsed again.
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			s2, _ := OpenWith(u.s.Root(), Options{NoSync: true})
			f2, _ := newUser(b, s2, "bob@b.test").Folder("INBOX")
			if st, err := f2.Status(); err != nil || st.Messages != 10000 {
				b.Fatal(st, err)
			}
		}
	})
}

// BenchmarkSetFlags is one STORE +FLAGS on one message: a rename in cur/.
func BenchmarkSetFlags(b *testing.B) {
	_, u := bigFolder(b, 10000)
	v, err := u.Select("INBOX", false)
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	uids := []uint32{5000}
	i := 0
	for b.Loop() {
		op := AddFlags
		if i%2 == 1 {
			op = RemoveFlags
		}
		i++
		if _, err := v.SetFlags(uids, op, FlagFlagged); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFanout is one flag change seen by n other sessions of the
// folder, each collecting its update.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("watchers=%d", n), func(b *testing.B) {
			s := fixedStore(b, Options{NoSync: true})
			deliver(b, s, "bob@b.test", 1)
			u := newUser(b, s, "bob@b.test")
			writer, _ := u.Select("INBOX", false)
			defer writer.Close()
			views := make([]*View, n)
			for i := range views {
				views[i], _ = u.Select("INBOX", false)
				defer views[i].Close()
			}
			i := 0
			for b.Loop() {
				op := AddFlags
				if i%2 == 1 {
					op = RemoveFlags
				}
				i++
				writer.SetFlags([]uint32{1}, op, FlagSeen)
				for _, v := range views {
					<-v.Ready()
					if evs, _ := v.Updates(); len(evs) != 1 {
						b.Fatalf("updates %v", evs)
					}
				}
			}
		})
	}
}

func FuzzUIDList(f *testing.F) {
	f.Add([]byte("3 V1767225600 N4 R3\n1 :a.M1P2Q3.h,S=4\n3 :b\n"))
	f.Add([]byte("3 V1 N1\n"))
	f.Add([]byte("3 V1 N5 R9\n9 :x\n2 :y\n2 :z\n4 :../p\n"))
	f.Add([]byte("1 V1 N1\n"))
	f.Add([]byte("3 V4294967295 N4294967295\n4294967295 :x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := parseUIDList(b)
		if err != nil {
			return
		}
		var last uint32
		for _, e := range l.entries {
			if e.uid <= last || e.uid >= l.next || !validKey(e.key) || strings.Contains(e.key, "/") {
				t.Fatalf("bad entry %+v (next %d)", e, l.next)
			}
			last = e.uid
		}
		if l.firstRecent > l.next || l.validity == 0 {
			t.Fatalf("bad header %+v", l)
		}
		// What is written reads back the same.
		again, err := parseUIDList(l.marshal())
		if err != nil || again.validity != l.validity || again.next != l.next || len(again.entries) != len(l.entries) {
			t.Fatalf("round trip: %+v, %v", again, err)
		}
	})
}

// BenchmarkRescan is what an IMAP server does after every command and at
// NOOP: View.Rescan and Updates on a 1,000-message folder nothing changed.
// "flags" changes one message's flags through another View between two
// rescans (one rename in cur/, as a STORE of another session).
func BenchmarkRescan(b *testing.B) {
	_, u := bigFolder(b, 1000)
	v, err := u.Select("INBOX", false)
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	b.Run("idle", func(b *testing.B) {
		for b.Loop() {
			if err := v.Rescan(); err != nil {
				b.Fatal(err)
			}
			v.Updates()
		}
	})
	w, err := u.Select("INBOX", false)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.Run("flags", func(b *testing.B) {
		i := 0
		for b.Loop() {
			op := AddFlags
			if i%2 == 1 {
				op = RemoveFlags
			}
			i++
			if _, err := w.SetFlags([]uint32{500}, op, FlagFlagged); err != nil {
				b.Fatal(err)
			}
			if err := v.Rescan(); err != nil {
				b.Fatal(err)
			}
			v.Updates()
		}
	})
}
