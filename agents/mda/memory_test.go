package mda

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/protocols/imap/imapserver"
)

// heapInuse is HeapInuse after two collections.
func heapInuse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkSessionMemory opens n IMAP sessions (the adapter's imapMailbox
// over a mailbox.View) on one 1,000-message INBOX and reports the heap
// each one holds beyond the folder's shared state: "B/session" is what
// agents/mda and agents/mailbox keep, "B/session+server" adds what
// protocols/imap/imapserver keeps of Messages() at SELECT: the UIDs (it
// asks Lookup for flags, sizes and dates when a command needs them).
func BenchmarkSessionMemory(b *testing.B) {
	const msgs, n = 1000, 200
	s, err := mailbox.OpenWith(b.TempDir(), mailbox.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	u, err := s.User("bob@b.test")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := u.Folder("INBOX"); err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 2000)
	for i := 0; i < msgs; i++ {
		flags := ""
		if i%2 == 0 {
			flags = "S"
		}
		name := fmt.Sprintf("1767225600.M%dP1Q%d.mda.b.test,S=2000:2,%s", i, i, flags)
		if err := os.WriteFile(filepath.Join(u.Dir(), "cur", name), body, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	iu := &imapUser{u: u, addr: "bob@b.test"}
	// The first session claims \Recent and numbers the files: the shared
	// state exists before the measure.
	first, err := iu.Open("INBOX", false)
	if err != nil {
		b.Fatal(err)
	}
	defer first.Close()
	for b.Loop() {
		before := heapInuse()
		boxes := make([]imapserver.Mailbox, n)
		for i := range boxes {
			if boxes[i], err = iu.Open("INBOX", false); err != nil {
				b.Fatal(err)
			}
			boxes[i].Updates()
		}
		mid := heapInuse()
		kept := make([][]uint32, n)
		for i, mb := range boxes {
			msgs := mb.Messages()
			kept[i] = make([]uint32, len(msgs))
			for j, m := range msgs {
				kept[i][j] = m.UID
			}
		}
		after := heapInuse()
		b.ReportMetric(float64(int64(mid)-int64(before))/n, "B/session")
		b.ReportMetric(float64(int64(after)-int64(before))/n, "B/session+server")
		runtime.KeepAlive(kept)
		for _, mb := range boxes {
			mb.Close()
		}
	}
}
