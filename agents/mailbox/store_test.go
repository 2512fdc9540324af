package mailbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func newUser(t testing.TB, s *Store, addr string) *User {
	t.Helper()
	u, err := s.User(addr)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func deliver(t testing.TB, s *Store, addr string, n int) []Delivery {
	t.Helper()
	var ds []Delivery
	for i := 0; i < n; i++ {
		d, err := s.Deliver(addr, strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i)))
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	return ds
}

func selectView(t testing.TB, u *User, name string, readOnly bool) *View {
	t.Helper()
	v, err := u.Select(name, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func uidsOf(msgs []MessageInfo) []uint32 {
	var out []uint32
	for _, m := range msgs {
		out = append(out, m.UID)
	}
	return out
}

func recentOf(msgs []MessageInfo) []uint32 {
	var out []uint32
	for _, m := range msgs {
		if m.Recent {
			out = append(out, m.UID)
		}
	}
	return out
}

// evString renders events the way an IMAP session would turn them into
// untagged responses, to compare them in one line.
func evString(evs []Event) string {
	var b []string
	for _, e := range evs {
		switch e.Kind {
		case EventNew:
			s := fmt.Sprintf("new %d", e.Message.UID)
			if e.Message.Recent {
				s += " recent"
			}
			b = append(b, s)
		case EventFlags:
			b = append(b, fmt.Sprintf("flags %d %s", e.Message.UID, e.Message.Flags))
		case EventExpunge:
			b = append(b, fmt.Sprintf("expunge %d", e.Message.UID))
		default:
			b = append(b, e.Kind.String())
		}
	}
	return strings.Join(b, ", ")
}

func updates(t *testing.T, v *View) string {
	t.Helper()
	evs, err := v.Updates()
	if err != nil {
		t.Fatal(err)
	}
	return evString(evs)
}

func TestUIDsSurviveReopen(t *testing.T) {
	s := fixedStore(t, Options{})
	ds := deliver(t, s, "bob@b.test", 3)
	u := newUser(t, s, "bob@b.test")
	v := selectView(t, u, "INBOX", false)
	msgs := v.Messages()
	if diff := cmp.Diff([]uint32{1, 2, 3}, uidsOf(msgs)); diff != "" {
		t.Fatalf("UIDs (-want +got):\n%s", diff)
	}
	// Delivery order, although the fixed clock gives every name the same
	// time: the delivery counter decides.
	for i, m := range msgs {
		if !strings.HasPrefix(ds[i].Name, m.Key) {
			t.Errorf("UID %d is %s, want %s", m.UID, m.Key, ds[i].Name)
		}
		if m.Size != ds[i].Size || !m.Date.Equal(time.Unix(1767225600, 123456000)) {
			t.Errorf("UID %d: size %d date %v", m.UID, m.Size, m.Date)
		}
	}
	validity := v.UIDValidity()
	if _, err := v.SetFlags([]uint32{2}, AddFlags, FlagSeen); err != nil {
		t.Fatal(err)
	}
	v.Close()

	// A new Store on the same root: another process, after a restart.
	s2, err := OpenWith(s.Root(), Options{Now: func() time.Time { return time.Unix(1767230000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, s2, "bob@b.test", 1)
	v2 := selectView(t, newUser(t, s2, "bob@b.test"), "inbox", false)
	if v2.UIDValidity() != validity {
		t.Errorf("UIDVALIDITY %d after reopening, was %d", v2.UIDValidity(), validity)
	}
	got := v2.Messages()
	if diff := cmp.Diff([]uint32{1, 2, 3, 4}, uidsOf(got)); diff != "" {
		t.Fatalf("UIDs after reopening (-want +got):\n%s", diff)
	}
	if got[1].Flags != FlagSeen || got[1].Key != msgs[1].Key {
		t.Errorf("UID 2 after reopening: %+v", got[1])
	}
	if diff := cmp.Diff([]uint32{4}, recentOf(got)); diff != "" {
		t.Errorf("recent after reopening (-want +got):\n%s", diff)
	}
}

func TestUIDValidityDistinctPerFolder(t *testing.T) {
	s := fixedStore(t, Options{}) // a fixed clock: every folder is created "at the same second"
	u := newUser(t, s, "bob@b.test")
	for _, name := range []string{"Archive/2024", "Sent", "Drafts"} {
		if err := u.CreateFolder(name); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[uint32]string{}
	for _, name := range []string{"INBOX", "Archive", "Archive/2024", "Sent", "Drafts"} {
		f, err := u.Folder(name)
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.Status()
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := seen[st.UIDValidity]; dup {
			t.Errorf("%s and %s share UIDVALIDITY %d", name, other, st.UIDValidity)
		}
		seen[st.UIDValidity] = name
	}
	// Deleted and created again: a new, greater UIDVALIDITY (RFC 3501
	// section 2.3.1.1), also after a restart.
	f, _ := u.Folder("Sent")
	old, _ := f.UIDValidity()
	if err := u.DeleteFolder("Sent"); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenWith(s.Root(), Options{Now: func() time.Time { return time.Unix(1767225600, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	u2 := newUser(t, s2, "bob@b.test")
	if err := u2.CreateFolder("Sent"); err != nil {
		t.Fatal(err)
	}
	f2, _ := u2.Folder("Sent")
	if v, _ := f2.UIDValidity(); v <= old {
		t.Errorf("re-created Sent has UIDVALIDITY %d, old one was %d", v, old)
	}
}

func TestFlagsInFileNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		key   string
		flags Flags
		extra string
		back  string // curName of the parsed parts
	}{
		{"1.M2P3.h,S=4", "1.M2P3.h,S=4", 0, "", "1.M2P3.h,S=4:2,"},
		{"1.M2P3.h,S=4:2,", "1.M2P3.h,S=4", 0, "", "1.M2P3.h,S=4:2,"},
		{"k:2,S", "k", FlagSeen, "", "k:2,S"},
		{"k:2,DFPRST", "k", AllFlags, "", "k:2,DFPRST"},
		{"k:2,TSRPFD", "k", AllFlags, "", "k:2,DFPRST"},
		{"k:2,Sab", "k", FlagSeen, "ab", "k:2,Sab"},
		{"k:2,aS", "k", FlagSeen, "a", "k:2,Sa"},
		{"k:1,whatever", "k", 0, "", "k:2,"},
	} {
		key, flags, extra := splitName(tc.name)
		if key != tc.key || flags != tc.flags || extra != tc.extra {
			t.Errorf("splitName(%q) = %q %q %q", tc.name, key, flags, extra)
		}
		if got := curName(key, flags, extra); got != tc.back {
			t.Errorf("curName(%q) = %q, want %q", tc.name, got, tc.back)
		}
	}

	s := fixedStore(t, Options{})
	d := deliver(t, s, "bob@b.test", 1)[0]
	u := newUser(t, s, "bob@b.test")
	v := selectView(t, u, "INBOX", false)
	cur := filepath.Join(u.Dir(), "cur")
	for _, step := range []struct {
		op    FlagOp
		flags Flags
		want  string
	}{
		{AddFlags, FlagSeen, ":2,S"},
		{AddFlags, FlagFlagged | FlagAnswered, ":2,FRS"},
		{RemoveFlags, FlagSeen, ":2,FR"},
		{ReplaceFlags, FlagDraft | FlagDeleted | FlagPassed, ":2,DPT"},
		{ReplaceFlags, 0, ":2,"},
	} {
		res, err := v.SetFlags([]uint32{1, 99}, step.op, step.flags)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].UID != 1 {
			t.Fatalf("SetFlags answered %+v", res)
		}
		if diff := cmp.Diff([]string{d.Name + step.want}, dirNames(t, cur)); diff != "" {
			t.Errorf("after %v %s (-want +got):\n%s", step.op, step.flags, diff)
		}
	}
	// Keyword letters of another program survive a flag change.
	old := filepath.Join(cur, d.Name+":2,")
	if err := os.Rename(old, filepath.Join(cur, d.Name+":2,ac")); err != nil {
		t.Fatal(err)
	}
	if _, err := v.SetFlags([]uint32{1}, AddFlags, FlagSeen); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{d.Name + ":2,Sac"}, dirNames(t, cur)); diff != "" {
		t.Errorf("keywords lost (-want +got):\n%s", diff)
	}
}

func TestSelectMovesNewToCurAndClaimsRecent(t *testing.T) {
	s := fixedStore(t, Options{})
	deliver(t, s, "bob@b.test", 2)
	u := newUser(t, s, "bob@b.test")

	// EXAMINE changes nothing: still in new/, still recent for the next.
	ro := selectView(t, u, "INBOX", true)
	if diff := cmp.Diff([]uint32{1, 2}, recentOf(ro.Messages())); diff != "" {
		t.Errorf("EXAMINE recent (-want +got):\n%s", diff)
	}
	if n := dirNames(t, filepath.Join(u.Dir(), "new")); len(n) != 2 {
		t.Errorf("EXAMINE moved files out of new/: %q", n)
	}
	if _, err := ro.SetFlags([]uint32{1}, AddFlags, FlagSeen); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("SetFlags on a read-only View: %v", err)
	}

	a := selectView(t, u, "INBOX", false)
	if diff := cmp.Diff([]uint32{1, 2}, recentOf(a.Messages())); diff != "" {
		t.Errorf("first SELECT recent (-want +got):\n%s", diff)
	}
	if n := dirNames(t, filepath.Join(u.Dir(), "new")); len(n) != 0 {
		t.Errorf("new/ after SELECT: %q", n)
	}
	for _, name := range dirNames(t, filepath.Join(u.Dir(), "cur")) {
		if !strings.HasSuffix(name, ":2,") {
			t.Errorf("cur/%s has no info", name)
		}
	}
	b := selectView(t, u, "INBOX", false)
	if r := recentOf(b.Messages()); len(r) != 0 {
		t.Errorf("second SELECT sees recent %v", r)
	}
	st, _ := a.Folder().Status()
	if st.Recent != 0 || st.Messages != 2 || st.Unseen != 2 || st.UIDNext != 3 {
		t.Errorf("STATUS = %+v", st)
	}
	// A new delivery is recent to exactly one of the two sessions.
	deliver(t, s, "bob@b.test", 1)
	ga, gb := updates(t, a), updates(t, b)
	if !(ga == "new 3 recent" && gb == "new 3" || ga == "new 3" && gb == "new 3 recent") {
		t.Errorf("updates: a %q, b %q; want one recent", ga, gb)
	}
	// The old List still shows the INBOX, now from cur/.
	msgs, err := s.List("bob@b.test")
	if err != nil || len(msgs) != 3 {
		t.Fatalf("List = %v, %v", msgs, err)
	}
}

func TestNotificationsBetweenViews(t *testing.T) {
	s := fixedStore(t, Options{NoSync: true})
	deliver(t, s, "bob@b.test", 3)
	u := newUser(t, s, "bob@b.test")
	a := selectView(t, u, "INBOX", false)
	b := selectView(t, u, "INBOX", false)

	if _, err := a.SetFlags([]uint32{1, 2}, AddFlags, FlagSeen); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.Ready():
	default:
		t.Fatal("b not woken by a's STORE")
	}
	if got := updates(t, b); got != "flags 1 S, flags 2 S" {
		t.Errorf("b sees %q", got)
	}
	if got := updates(t, a); got != "" {
		t.Errorf("a sees its own change: %q", got)
	}
	// Same flags again: no change, no event.
	a.SetFlags([]uint32{1}, AddFlags, FlagSeen)
	if got := updates(t, b); got != "" {
		t.Errorf("b sees a non-change: %q", got)
	}

	a.SetFlags([]uint32{2}, AddFlags, FlagDeleted)
	gone, err := a.ExpungeDeleted(nil)
	if err != nil || !cmp.Equal(gone, []uint32{2}) {
		t.Fatalf("ExpungeDeleted = %v, %v", gone, err)
	}
	if got := updates(t, b); got != "flags 2 ST, expunge 2" {
		t.Errorf("b sees %q", got)
	}

	// Deliver (the LMTP path) wakes both, after the message is on disk.
	d := deliver(t, s, "bob@b.test", 1)[0]
	<-a.Ready()
	<-b.Ready()
	ga, gb := updates(t, a), updates(t, b)
	if ga+"|"+gb != "new 4 recent|new 4" && ga+"|"+gb != "new 4|new 4 recent" {
		t.Errorf("after Deliver: a %q, b %q", ga, gb)
	}
	if body, err := a.Read(4, 0); err != nil || !strings.Contains(string(body), "body 0") {
		t.Errorf("Read(4) = %q, %v (delivered %s)", body, err, d.Name)
	}

	// APPEND into the selected folder through a Folder handle: both see it.
	inbox, _ := u.Folder("INBOX")
	uid, err := inbox.Append(strings.NewReader("Subject: sent\r\n\r\n"), FlagSeen, time.Time{})
	if err != nil || uid != 5 {
		t.Fatalf("Append = %d, %v", uid, err)
	}
	if ga, gb := updates(t, a), updates(t, b); !strings.HasPrefix(ga, "new 5") || !strings.HasPrefix(gb, "new 5") {
		t.Errorf("after Append: a %q, b %q", ga, gb)
	}

	// A closed View hears nothing and refuses work.
	b.Close()
	a.SetFlags([]uint32{1}, RemoveFlags, FlagSeen)
	if _, err := b.Updates(); !errors.Is(err, ErrClosed) {
		t.Errorf("Updates after Close: %v", err)
	}
}

func TestSlowViewResyncs(t *testing.T) {
	s := fixedStore(t, Options{NoSync: true, MaxPendingEvents: 3})
	deliver(t, s, "bob@b.test", 2)
	u := newUser(t, s, "bob@b.test")
	a := selectView(t, u, "INBOX", false)
	slow := selectView(t, u, "INBOX", false)
	// Far more changes than slow's queue holds; a never waits for it.
	for i := 0; i < 10; i++ {
		a.SetFlags([]uint32{1}, ReplaceFlags, Flags(i%2)*FlagSeen)
	}
	deliver(t, s, "bob@b.test", 3)
	a.Expunge([]uint32{2})
	// The queue overflowed: slow gets the difference, not the history.
	// UID 1 ended with FlagSeen (i = 9); the new messages were claimed by
	// nobody before slow looked.
	if got := updates(t, slow); got != "expunge 2, flags 1 S, new 3 recent, new 4 recent, new 5 recent" {
		t.Errorf("slow sees %q", got)
	}
	if got := updates(t, slow); got != "" {
		t.Errorf("second Updates: %q", got)
	}
}

func TestAppendCopyMoveExpunge(t *testing.T) {
	s := fixedStore(t, Options{})
	u := newUser(t, s, "bob@b.test")
	if err := u.CreateFolder("Archive"); err != nil {
		t.Fatal(err)
	}
	date := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	validity, uid, err := u.Append("INBOX", strings.NewReader("Subject: a\r\n\r\nA\r\n"), FlagSeen|FlagFlagged, date)
	if err != nil || uid != 1 || validity == 0 {
		t.Fatalf("Append = %d %d %v", validity, uid, err)
	}
	u.Append("INBOX", strings.NewReader("Subject: b\r\n\r\nB\r\n"), 0, date.Add(time.Hour))
	u.Append("INBOX", strings.NewReader("Subject: c\r\n\r\nC\r\n"), FlagDeleted, date.Add(2*time.Hour))
	inbox, _ := u.Folder("INBOX")
	msgs, err := inbox.Messages()
	if err != nil || len(msgs) != 3 {
		t.Fatalf("Messages = %v, %v", msgs, err)
	}
	if !msgs[0].Date.Equal(date) || msgs[0].Flags != FlagSeen|FlagFlagged || msgs[0].Size != 17 || !msgs[0].Recent {
		t.Errorf("appended message = %+v", msgs[0])
	}

	archive, _ := u.Folder("archive") // folder names other than INBOX keep their case
	if archive != nil {
		t.Fatalf("Folder(archive) found %q", archive.Name())
	}
	archive, _ = u.Folder("Archive")
	pairs, err := inbox.CopyTo([]uint32{3, 1, 1, 42}, archive)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]UIDPair{{1, 1}, {3, 2}}, pairs); diff != "" {
		t.Errorf("COPYUID pairs (-want +got):\n%s", diff)
	}
	copied, _ := archive.Messages()
	if len(copied) != 2 || copied[0].Flags != FlagSeen|FlagFlagged || !copied[0].Date.Equal(date) || copied[1].Flags != FlagDeleted {
		t.Errorf("copies = %+v", copied)
	}
	if b, err := archive.Read(1, 0); err != nil || string(b) != "Subject: a\r\n\r\nA\r\n" {
		t.Errorf("copy reads %q, %v", b, err)
	}
	if _, err := archive.Read(1, 5); !errors.Is(err, ErrTooBig) {
		t.Errorf("Read over the limit: %v", err)
	}
	// Copy twice into the same folder: a second name, not a clash.
	if pairs, err := inbox.CopyTo([]uint32{1}, archive); err != nil || !cmp.Equal(pairs, []UIDPair{{1, 3}}) {
		t.Errorf("second copy = %v, %v", pairs, err)
	}

	v := selectView(t, u, "INBOX", false)
	pairs, err = v.MoveTo([]uint32{2}, archive)
	if err != nil || !cmp.Equal(pairs, []UIDPair{{2, 4}}) {
		t.Fatalf("MoveTo = %v, %v", pairs, err)
	}
	left, _ := inbox.Messages()
	if diff := cmp.Diff([]uint32{1, 3}, uidsOf(left)); diff != "" {
		t.Errorf("INBOX after move (-want +got):\n%s", diff)
	}
	gone, err := v.ExpungeDeleted(nil)
	if err != nil || !cmp.Equal(gone, []uint32{3}) {
		t.Errorf("ExpungeDeleted = %v, %v", gone, err)
	}
	gone, err = v.Expunge([]uint32{1})
	if err != nil || !cmp.Equal(gone, []uint32{1}) {
		t.Errorf("Expunge = %v, %v", gone, err)
	}
	st, _ := inbox.Status()
	if st.Messages != 0 || st.UIDNext != 4 {
		t.Errorf("INBOX status %+v: UIDs must not be reused", st)
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if n := dirNames(t, filepath.Join(u.Dir(), sub)); len(n) != 0 {
			t.Errorf("INBOX %s/ holds %q", sub, n)
		}
	}
	ast, _ := archive.Status()
	if ast.Messages != 4 || ast.Unseen != 2 {
		t.Errorf("Archive status %+v", ast)
	}
}

func TestFileDroppedIntoNewGetsUID(t *testing.T) {
	s := fixedStore(t, Options{})
	deliver(t, s, "bob@b.test", 1)
	u := newUser(t, s, "bob@b.test")
	v := selectView(t, u, "INBOX", false)
	// Another program's delivery, with a name of another shape.
	name := "1767225700.12345.other.host"
	if err := os.WriteFile(filepath.Join(u.Dir(), "new", name), []byte("Subject: x\r\n\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := v.Rescan(); err != nil {
		t.Fatal(err)
	}
	if got := updates(t, v); got != "new 2 recent" {
		t.Errorf("after Rescan: %q", got)
	}
	msgs, _ := v.Folder().Messages()
	if len(msgs) != 2 || msgs[1].Key != name || msgs[1].Size != 14 || msgs[1].Date.Unix() != 1767225700 {
		t.Errorf("dropped message = %+v", msgs[1])
	}
	// Removed by hand: the next scan drops the UID and tells the session.
	os.Remove(filepath.Join(u.Dir(), "cur", name+":2,"))
	v.Rescan()
	if got := updates(t, v); got != "expunge 2" {
		t.Errorf("after removal: %q", got)
	}
}

func TestCrashLeftoversAreReconciled(t *testing.T) {
	s := fixedStore(t, Options{})
	u := newUser(t, s, "bob@b.test")
	dir := u.Dir()
	// A UID list as a crash may leave it: UID 5 names a file that is gone,
	// UID 7 one that is there; next is 9. And a file with no UID, plus a
	// garbage line, and a stray temporary list.
	list := "3 V1700000000 N9 R9\n5 :gone.M1P1Q1.h,S=1\n7 :kept.M1P1Q2.h,S=3\nnonsense\n8 :../../etc/passwd\n"
	os.WriteFile(filepath.Join(dir, uidListFile), []byte(list), 0o600)
	os.WriteFile(filepath.Join(dir, uidListFile+".123.tmp"), []byte("3 V1 N1\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "cur", "kept.M1P1Q2.h,S=3:2,S"), []byte("abc"), 0o600)
	os.WriteFile(filepath.Join(dir, "new", "1767225601.M1P1Q3.h,S=2"), []byte("xy"), 0o600)
	inbox, _ := u.Folder("INBOX")
	msgs, err := inbox.Messages()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint32{7, 9}, uidsOf(msgs)); diff != "" {
		t.Errorf("UIDs (-want +got):\n%s", diff)
	}
	if v, _ := inbox.UIDValidity(); v != 1700000000 {
		t.Errorf("UIDVALIDITY changed to %d", v)
	}
	b, _ := os.ReadFile(filepath.Join(dir, uidListFile))
	want := "3 V1700000000 N10 R9\n7 :kept.M1P1Q2.h,S=3\n9 :1767225601.M1P1Q3.h,S=2\n"
	if string(b) != want {
		t.Errorf("UID list:\n%s\nwant:\n%s", b, want)
	}

	// A header that cannot be read: a new UIDVALIDITY, greater than the
	// current time, and everything numbered again.
	os.WriteFile(filepath.Join(dir, uidListFile), []byte("garbage"), 0o600)
	s2, _ := OpenWith(s.Root(), Options{Now: s.opts.Now})
	f2, _ := newUser(t, s2, "bob@b.test").Folder("INBOX")
	msgs, _ = f2.Messages()
	v, _ := f2.UIDValidity()
	if diff := cmp.Diff([]uint32{1, 2}, uidsOf(msgs)); diff != "" || v < 1767225600 {
		t.Errorf("after a bad header: UIDVALIDITY %d, UIDs (-want +got):\n%s", v, diff)
	}
}

func TestMaildropLockExclusive(t *testing.T) {
	s := fixedStore(t, Options{})
	u := newUser(t, s, "bob@b.test")
	l, err := u.LockMaildrop()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newUser(t, s, "BOB@b.test").LockMaildrop(); !errors.Is(err, ErrMaildropLocked) {
		t.Errorf("second lock in the same Store: %v", err)
	}
	// Another Store on the same root, as another process would be: the
	// flock(2) refuses it.
	s2, _ := OpenWith(s.Root(), Options{})
	if _, err := newUser(t, s2, "bob@b.test").LockMaildrop(); !errors.Is(err, ErrMaildropLocked) && flockWorks {
		t.Errorf("lock through another Store: %v", err)
	}
	// Another user is not locked.
	l2, err := newUser(t, s, "alice@b.test").LockMaildrop()
	if err != nil {
		t.Errorf("alice: %v", err)
	} else {
		l2.Unlock()
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l.Unlock() // twice is fine
	l3, err := newUser(t, s2, "bob@b.test").LockMaildrop()
	if err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	l3.Unlock()
}

func folderNames(t *testing.T, u *User) []string {
	t.Helper()
	fs, err := u.Folders()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fs {
		s := f.Name
		if f.NoSelect {
			s += " \\Noselect"
		}
		if f.HasChildren {
			s += " \\HasChildren"
		}
		if f.Subscribed {
			s += " \\Subscribed"
		}
		out = append(out, s)
	}
	return out
}

func TestFoldersCreateListDelete(t *testing.T) {
	s := fixedStore(t, Options{})
	u := newUser(t, s, "bob@b.test")
	for _, name := range []string{"Archive/2024", "Sent", "a.b", "Año", "INBOX/Drafts/"} {
		if err := u.CreateFolder(name); err != nil {
			t.Fatalf("CreateFolder(%q): %v", name, err)
		}
	}
	for _, name := range []string{"inbox", "Sent", "Archive"} {
		if err := u.CreateFolder(name); !errors.Is(err, ErrFolderExists) {
			t.Errorf("CreateFolder(%q) again: %v", name, err)
		}
	}
	u.Subscribe("Sent")
	u.Subscribe("Gone/Away")
	want := []string{"INBOX \\HasChildren", "INBOX/Drafts", "Archive \\HasChildren", "Archive/2024", "Año", "Sent \\Subscribed", "a.b"}
	if diff := cmp.Diff(want, folderNames(t, u)); diff != "" {
		t.Errorf("Folders (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{".A&APE-o", ".Archive", ".Archive.2024", ".INBOX.Drafts", ".Sent", ".a&AC4-b"}, dotDirs(t, u.Dir())); diff != "" {
		t.Errorf("directories (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(u.Dir(), ".Archive.2024", "maildirfolder")); err != nil {
		t.Errorf("no maildirfolder marker: %v", err)
	}

	// RFC 3501 section 6.3.4.
	if err := u.DeleteFolder("INBOX"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("DeleteFolder(INBOX): %v", err)
	}
	v := selectView(t, u, "Archive", false)
	if err := u.DeleteFolder("Archive"); err != nil {
		t.Fatal(err)
	}
	if got := updates(t, v); got != "gone" {
		t.Errorf("View of a deleted folder sees %q", got)
	}
	if _, err := v.SetFlags([]uint32{1}, AddFlags, FlagSeen); !errors.Is(err, ErrNoFolder) {
		t.Errorf("SetFlags in a deleted folder: %v", err)
	}
	if err := u.DeleteFolder("Archive"); !errors.Is(err, ErrHasChildren) {
		t.Errorf("DeleteFolder of a \\Noselect parent: %v", err)
	}
	if err := u.DeleteFolder("Nope"); !errors.Is(err, ErrNoFolder) {
		t.Errorf("DeleteFolder(Nope): %v", err)
	}
	if _, err := u.Select("Archive", false); !errors.Is(err, ErrNoFolder) {
		t.Errorf("Select of a \\Noselect name: %v", err)
	}
	want = []string{"INBOX \\HasChildren", "INBOX/Drafts", "Archive \\Noselect \\HasChildren", "Archive/2024", "Año", "Sent \\Subscribed", "a.b"}
	if diff := cmp.Diff(want, folderNames(t, u)); diff != "" {
		t.Errorf("Folders after delete (-want +got):\n%s", diff)
	}
	// Subscriptions survive deletion and restarts (RFC 3501 section 6.3.6).
	u.DeleteFolder("Sent")
	s2, _ := OpenWith(s.Root(), Options{})
	subs, err := newUser(t, s2, "bob@b.test").Subscriptions()
	if err != nil || !cmp.Equal(subs, []string{"Gone/Away", "Sent"}) {
		t.Errorf("Subscriptions = %q, %v", subs, err)
	}
	u.Unsubscribe("Sent")
	u.Unsubscribe("never")
	if subs, _ := u.Subscriptions(); !cmp.Equal(subs, []string{"Gone/Away"}) {
		t.Errorf("after Unsubscribe: %q", subs)
	}
	if names := dirNames(t, u.Dir()); strings.Contains(strings.Join(names, " "), "..maillab") {
		t.Errorf("leftovers: %q", names)
	}
}

func dotDirs(t *testing.T, dir string) []string {
	var out []string
	for _, n := range dirNames(t, dir) {
		if strings.HasPrefix(n, ".") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func TestFolderNamesCannotEscape(t *testing.T) {
	s := fixedStore(t, Options{})
	u := newUser(t, s, "bob@b.test")
	for _, name := range []string{"../x", "a/../../b", "\x00", ".", "..", "INBOX/../..", "/etc", "a//b"} {
		if err := u.CreateFolder(name); !errors.Is(err, ErrBadFolder) {
			t.Errorf("CreateFolder(%q): %v", name, err)
		}
		if _, err := u.Folder(name); !errors.Is(err, ErrBadFolder) {
			t.Errorf("Folder(%q): %v", name, err)
		}
		if err := u.RenameFolder("INBOX", name); !errors.Is(err, ErrBadFolder) {
			t.Errorf("RenameFolder(INBOX, %q): %v", name, err)
		}
	}
	// Only the Maildir's own things exist: nothing was made above it.
	if diff := cmp.Diff([]string{"bob"}, dirNames(t, filepath.Join(s.Root(), "b.test"))); diff != "" {
		t.Errorf("b.test/ (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b.test"}, dirNames(t, s.Root())); diff != "" {
		t.Errorf("root (-want +got):\n%s", diff)
	}
}

func TestRenameInbox(t *testing.T) {
	s := fixedStore(t, Options{})
	deliver(t, s, "bob@b.test", 2)
	u := newUser(t, s, "bob@b.test")
	u.CreateFolder("INBOX/Child")
	watcher := selectView(t, u, "INBOX", false)
	watcher.SetFlags([]uint32{2}, AddFlags, FlagSeen)
	if err := u.RenameFolder("inbox", "Old/2025"); err != nil {
		t.Fatal(err)
	}
	// RFC 3501 section 6.3.5: the messages move, INBOX stays and is empty,
	// its inferiors stay where they are.
	inbox, _ := u.Folder("INBOX")
	if msgs, _ := inbox.Messages(); len(msgs) != 0 {
		t.Errorf("INBOX after rename: %v", msgs)
	}
	old, err := u.Folder("Old/2025")
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := old.Messages()
	if len(msgs) != 2 || msgs[1].Flags != FlagSeen {
		t.Errorf("Old/2025 = %+v", msgs)
	}
	if got := updates(t, watcher); got != "expunge 1, expunge 2" {
		t.Errorf("the INBOX session sees %q", got)
	}
	want := []string{"INBOX \\HasChildren", "INBOX/Child", "Old \\HasChildren", "Old/2025"}
	if diff := cmp.Diff(want, folderNames(t, u)); diff != "" {
		t.Errorf("Folders (-want +got):\n%s", diff)
	}
}

func TestRenameFolderWithChildren(t *testing.T) {
	s := fixedStore(t, Options{})
	u := newUser(t, s, "bob@b.test")
	u.CreateFolder("A/x/y")
	a, _ := u.Folder("A/x")
	a.Append(strings.NewReader("m"), FlagSeen, time.Time{})
	validity, _ := a.UIDValidity()
	if err := u.RenameFolder("A", "A/B"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("rename into itself: %v", err)
	}
	u.CreateFolder("Z/x")
	if err := u.RenameFolder("A", "Z"); !errors.Is(err, ErrFolderExists) {
		t.Errorf("rename onto an existing name: %v", err)
	}
	if err := u.RenameFolder("A", "B/C"); err != nil {
		t.Fatal(err)
	}
	want := []string{"INBOX", "B \\HasChildren", "B/C \\HasChildren", "B/C/x \\HasChildren", "B/C/x/y", "Z \\HasChildren", "Z/x"}
	if diff := cmp.Diff(want, folderNames(t, u)); diff != "" {
		t.Errorf("Folders (-want +got):\n%s", diff)
	}
	moved, _ := u.Folder("B/C/x")
	if v, _ := moved.UIDValidity(); v != validity {
		t.Errorf("UIDVALIDITY %d after rename, was %d", v, validity)
	}
	if msgs, _ := moved.Messages(); len(msgs) != 1 || msgs[0].UID != 1 {
		t.Errorf("messages after rename: %+v", msgs)
	}
	if err := u.RenameFolder("Nope", "Other"); !errors.Is(err, ErrNoFolder) {
		t.Errorf("rename of a missing folder: %v", err)
	}
}

func TestWatchSeesDeliveries(t *testing.T) {
	s := fixedStore(t, Options{NoSync: true})
	u := newUser(t, s, "bob@b.test")
	inbox, _ := u.Folder("INBOX")
	w, err := inbox.Watch()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	deliver(t, s, "bob@b.test", 2)
	<-w.Ready()
	if got := evString(w.Events()); got != "new 1, new 2" {
		t.Errorf("Watch got %q", got)
	}
	w.Close()
	deliver(t, s, "bob@b.test", 1)
	if evs := w.Events(); len(evs) != 0 {
		t.Errorf("closed Watch got %v", evs)
	}
}

func TestSymlinksAreIgnored(t *testing.T) {
	s := fixedStore(t, Options{})
	u := newUser(t, s, "bob@b.test")
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("password"), 0o600)
	if err := os.Symlink(secret, filepath.Join(u.Dir(), "cur", "1.M1P1Q1.h:2,S")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	os.Symlink(t.TempDir(), filepath.Join(u.Dir(), ".Elsewhere"))
	inbox, _ := u.Folder("INBOX")
	if msgs, err := inbox.Messages(); err != nil || len(msgs) != 0 {
		t.Errorf("a symlink in cur/ is listed: %v, %v", msgs, err)
	}
	if _, err := u.Folder("Elsewhere"); !errors.Is(err, ErrNoFolder) {
		t.Errorf("a symlinked folder opens: %v", err)
	}
	if got := folderNames(t, u); !cmp.Equal(got, []string{"INBOX"}) {
		t.Errorf("Folders = %q", got)
	}
}

func TestPOP3Session(t *testing.T) {
	s := fixedStore(t, Options{})
	deliver(t, s, "bob@b.test", 3)
	u := newUser(t, s, "bob@b.test")
	lock, err := u.LockMaildrop()
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	v := selectView(t, u, "INBOX", false)
	msgs := v.Messages()
	// Mail that arrives during the session is for the next one.
	deliver(t, s, "bob@b.test", 1)
	if gone, err := v.Expunge(nil); err != nil || len(gone) != 0 {
		t.Errorf("Expunge(nil) removed %v, %v", gone, err)
	}
	// DELE 1, DELE 3, QUIT: the UPDATE state.
	gone, err := v.Expunge([]uint32{msgs[0].UID, msgs[2].UID})
	if err != nil || !cmp.Equal(gone, []uint32{1, 3}) {
		t.Fatalf("Expunge = %v, %v", gone, err)
	}
	left, _ := v.Folder().Messages()
	if diff := cmp.Diff([]uint32{2, 4}, uidsOf(left)); diff != "" {
		t.Errorf("left (-want +got):\n%s", diff)
	}
}

// TestConcurrentSessions runs deliveries, appends, flag changes, copies,
// expunges and readers at once; run with -race. At the end every UID is
// unique and ascending, and nothing delivered is lost.
func TestConcurrentSessions(t *testing.T) {
	s := fixedStore(t, Options{NoSync: true, MaxPendingEvents: 8})
	u := newUser(t, s, "bob@b.test")
	u.CreateFolder("Archive")
	const n = 30
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // deliveries
		defer wg.Done()
		for i := 0; i < n; i++ {
			if _, err := s.Deliver("bob@b.test", strings.NewReader("Subject: x\r\n\r\n")); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Add(1)
	go func() { // appends into Archive
		defer wg.Done()
		for i := 0; i < n; i++ {
			if _, _, err := u.Append("Archive", strings.NewReader("m"), FlagSeen, time.Time{}); err != nil {
				t.Error(err)
			}
		}
	}()
	var readers sync.WaitGroup
	for r := 0; r < 3; r++ {
		readers.Add(1)
		go func() { // sessions: select, follow updates, change flags, copy
			defer readers.Done()
			v, err := u.Select("INBOX", false)
			if err != nil {
				t.Error(err)
				return
			}
			defer v.Close()
			archive, _ := u.Folder("Archive")
			for {
				select {
				case <-stop:
					return
				case <-v.Ready():
				}
				evs, err := v.Updates()
				if err != nil {
					t.Error(err)
					return
				}
				for _, e := range evs {
					if e.Kind == EventNew {
						v.SetFlags([]uint32{e.Message.UID}, AddFlags, FlagSeen)
						v.CopyTo([]uint32{e.Message.UID}, archive)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	inbox, _ := u.Folder("INBOX")
	msgs, err := inbox.Messages()
	if err != nil || len(msgs) != n {
		t.Fatalf("INBOX holds %d messages, %v; want %d", len(msgs), err, n)
	}
	for i, m := range msgs {
		if m.UID != uint32(i+1) {
			t.Errorf("message %d has UID %d", i, m.UID)
		}
	}
	archive, _ := u.Folder("Archive")
	amsgs, _ := archive.Messages()
	for i := 1; i < len(amsgs); i++ {
		if amsgs[i].UID <= amsgs[i-1].UID {
			t.Fatalf("Archive UIDs not ascending: %v", uidsOf(amsgs))
		}
	}
	if len(amsgs) < n {
		t.Errorf("Archive holds %d, want at least the %d appended", len(amsgs), n)
	}
}

// Lookup answers for the messages asked for, as Messages would, without
// copying the folder; an unknown UID is reported as such.
func TestViewLookup(t *testing.T) {
	s := fixedStore(t, Options{NoSync: true})
	deliver(t, s, "bob@b.test", 3)
	u := newUser(t, s, "bob@b.test")
	v := selectView(t, u, "INBOX", false)
	if _, err := v.SetFlags([]uint32{2}, AddFlags, FlagSeen); err != nil {
		t.Fatal(err)
	}
	all := v.Messages()
	got, known := v.Lookup([]uint32{3, 999, 2})
	if !known[0] || known[1] || !known[2] {
		t.Fatalf("known = %v, want [true false true]", known)
	}
	if got[0] != all[2] || got[2] != all[1] {
		t.Fatalf("Lookup = %+v, Messages has %+v and %+v", got, all[2], all[1])
	}
	if got[2].Flags != FlagSeen {
		t.Fatalf("message 2 flags %v, want S", got[2].Flags)
	}
}
