package mailbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// settle backdates cur/ and new/ as if the last change were long ago.
func settle(t *testing.T, u *User) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	for _, sub := range []string{"cur", "new"} {
		if err := os.Chtimes(filepath.Join(u.Dir(), sub), old, old); err != nil {
			t.Fatal(err)
		}
	}
}

// A rescan that finds the directories as it left them does not read them;
// the session's own changes and other sessions' do not make the next
// rescan read them; a file another program adds or removes does.
func TestRescanReadsOnlyChangedDirectories(t *testing.T) {
	s := fixedStore(t, Options{})
	deliver(t, s, "bob@b.test", 3)
	u := newUser(t, s, "bob@b.test")
	v := selectView(t, u, "INBOX", false)
	other := selectView(t, u, "INBOX", false)
	settle(t, u)
	v.Rescan() // reads once: the times changed
	reads := func() int64 { return dirReads.Load() }

	n := reads()
	for i := 0; i < 3; i++ {
		if err := v.Rescan(); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := v.Folder().Status(); err != nil || st.Messages != 3 {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	if got := reads() - n; got != 0 {
		t.Errorf("nothing changed: %d readings, want 0", got)
	}

	// Own changes: STORE in two sessions, EXPUNGE, APPEND.
	if _, err := other.SetFlags([]uint32{1, 2}, AddFlags, FlagSeen|FlagDeleted); err != nil {
		t.Fatal(err)
	}
	v.Rescan()
	if got := updates(t, v); got != "flags 1 ST, flags 2 ST" {
		t.Errorf("after other's STORE: %q", got)
	}
	v.SetFlags([]uint32{2}, RemoveFlags, FlagDeleted)
	if gone, err := v.ExpungeDeleted(nil); err != nil || len(gone) != 1 {
		t.Fatalf("ExpungeDeleted = %v, %v", gone, err)
	}
	if _, _, err := u.Append("INBOX", strings.NewReader("Subject: a\r\n\r\n"), FlagSeen, time.Time{}); err != nil {
		t.Fatal(err)
	}
	other.Rescan()
	if got := updates(t, other); got != "flags 2 S, expunge 1, new 4 recent" {
		t.Errorf("other after EXPUNGE and APPEND: %q", got)
	}
	if got := reads() - n; got != 0 {
		t.Errorf("after the lab's own changes: %d readings, want 0", got)
	}

	// Another program's delivery and deletion are seen at the next rescan.
	name := "1767225700.12345.other.host"
	if err := os.WriteFile(filepath.Join(u.Dir(), "new", name), []byte("Subject: x\r\n\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v.Rescan()
	if got := updates(t, v); got != "new 4, new 5 recent" {
		t.Errorf("after a file was dropped into new/: %q", got)
	}
	if got := reads() - n; got != 1 {
		t.Errorf("after a file was dropped into new/: %d readings, want 1", got)
	}
	msgs, _ := v.Folder().Messages()
	if err := os.Remove(filepath.Join(u.Dir(), "cur", curName(msgs[0].Key, msgs[0].Flags, ""))); err != nil {
		t.Fatal(err)
	}
	v.Rescan()
	if got := updates(t, v); got != "expunge 2" {
		t.Errorf("after a file was removed from cur/: %q", got)
	}
}

// sameTick adds a file to dir without changing its time, as a change made
// in the same clock tick as the last stat does.
func sameTick(t *testing.T, dir, name string) {
	t.Helper()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(dir, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
}

// A change made in the same clock tick as the last reading leaves the
// directory's time as it was: a time that recent is not trusted. After the
// process's own change, such a change is seen within dirMaxStale.
func TestRescanDistrustsRecentTimes(t *testing.T) {
	s := fixedStore(t, Options{})
	deliver(t, s, "bob@b.test", 1)
	u := newUser(t, s, "bob@b.test")
	f, err := u.Folder("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := f.Status(); err != nil || st.Messages != 1 {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	sameTick(t, filepath.Join(u.Dir(), "new"), "1767225700.1.other.host")
	if st, err := f.Status(); err != nil || st.Messages != 2 {
		t.Errorf("after a change in the tick of the last reading: Status = %+v, %v", st, err)
	}

	// SELECT moves new/ to cur/: its own change, whose stamp it adopts.
	v := selectView(t, u, "INBOX", false)
	sameTick(t, filepath.Join(u.Dir(), "new"), "1767225700.2.other.host")
	v.Rescan()
	if got := updates(t, v); got != "" {
		// Not a failure: the file system's clock is finer than a tick.
		t.Logf("seen at once: %q", got)
		return
	}
	v.fs.mu.Lock()
	v.fs.lastRead = v.fs.lastRead.Add(-dirMaxStale)
	v.fs.mu.Unlock()
	v.Rescan()
	if got := updates(t, v); got != "new 3 recent" {
		t.Errorf("after dirMaxStale: %q", got)
	}
}
