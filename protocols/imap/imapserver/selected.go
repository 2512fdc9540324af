package imapserver

import (
	"errors"
	"slices"
	"sort"
	"strings"

	"github.com/maillab/maillab/protocols/imap"
)

// selected is the session's view of its selected mailbox. Sequence number
// n is uids[n-1] (RFC 3501 section 2.3.1.2). The view changes only when the
// client is told: EXISTS appends, EXPUNGE removes. A message another
// session expunged stays, listed in gone, until an EXPUNGE response may be
// sent (section 7.4.1).
//
// Per message the session keeps only its UID, 4 octets: flags, sizes and
// dates come from Mailbox.Lookup when a command needs them, so that many
// sessions with a large mailbox selected (IDLE clients) cost little. Not
// even that while the Mailbox shares one array of UIDs among the sessions
// that know the same messages (UIDLister): uids is then that array until
// the session's view departs from it (copy on write, ownUIDs), and goes
// back to it when they agree again (reshareUIDs). With mda's Maildir
// backend that is 4 KB less per session on a 1,000-message INBOX.
type selected struct {
	name     string
	mbox     Mailbox
	hr       HeaderReader // mbox, when it implements HeaderReader
	readOnly bool
	uids     []uint32 // ascending; shared with other sessions while sharedUIDs
	// sharedUIDs: uids is the Mailbox's shared array (UIDLister), to be
	// copied before any change (ownUIDs).
	sharedUIDs bool
	gone       []uint32    // ascending, among uids: expunged, waiting for their EXPUNGE response
	recent     []uint32    // ascending, among uids: the messages recent to this session
	cache      headerCache // header fields SEARCH read
}

// ownUIDs makes uids the session's own before a change.
func (s *selected) ownUIDs() {
	if s.sharedUIDs {
		s.uids = slices.Clone(s.uids)
		s.sharedUIDs = false
	}
}

// find returns the index of uid in the view, or -1.
func (s *selected) find(uid uint32) int {
	if i, ok := slices.BinarySearch(s.uids, uid); ok {
		return i
	}
	return -1
}

func (s *selected) maxUID() uint32 {
	if len(s.uids) == 0 {
		return 0
	}
	return s.uids[len(s.uids)-1]
}

// isGone reports whether uid waits for its EXPUNGE response.
func (s *selected) isGone(uid uint32) bool {
	_, ok := slices.BinarySearch(s.gone, uid)
	return ok
}

// isRecent reports whether uid is recent to this session.
func (s *selected) isRecent(uid uint32) bool {
	_, ok := slices.BinarySearch(s.recent, uid)
	return ok
}

// removeAt drops the message at index i from the view.
func (s *selected) removeAt(i int) {
	uid := s.uids[i]
	s.ownUIDs()
	s.uids = slices.Delete(s.uids, i, i+1)
	if j, ok := slices.BinarySearch(s.gone, uid); ok {
		s.gone = slices.Delete(s.gone, j, j+1)
	}
	if j, ok := slices.BinarySearch(s.recent, uid); ok {
		s.recent = slices.Delete(s.recent, j, j+1)
	}
	s.cache.forget(uid)
	// Give back the memory of a view that lost most of its messages.
	if c := cap(s.uids); c > 256 && len(s.uids) < c/4 {
		s.uids = slices.Clip(slices.Clone(s.uids))
	}
}

// live returns the UIDs at the view indices idx, those gone left out.
func (s *selected) live(idx []int) []uint32 {
	uids := make([]uint32, 0, len(idx))
	for _, i := range idx {
		if uid := s.uids[i]; len(s.gone) == 0 || !s.isGone(uid) {
			uids = append(uids, uid)
		}
	}
	return uids
}

// lookup asks the mailbox for the messages with uids (ascending) and sets
// Recent as this session sees it. An entry with UID 0 is a message that no
// longer exists.
func (s *selected) lookup(uids []uint32) []Message {
	if len(uids) == 0 {
		return nil
	}
	msgs := s.mbox.Lookup(uids)
	if len(msgs) != len(uids) {
		// A backend that does not keep the contract: nothing is known.
		return make([]Message, len(uids))
	}
	for i := range msgs {
		if msgs[i].UID != uids[i] {
			msgs[i] = Message{}
			continue
		}
		msgs[i].Recent = len(s.recent) > 0 && s.isRecent(uids[i])
	}
	return msgs
}

// resolve turns a sequence set (or, with uid, a UID set) into view indices
// in ascending order, without duplicates. RFC 3501 section 6.4.8: UIDs not
// in the mailbox are ignored; sequence numbers beyond EXISTS are an error
// (section 9: "*" is the largest number in use).
func (s *selected) resolve(set imap.SeqSet, uid bool) ([]int, error) {
	type span struct{ lo, hi int } // view indices, inclusive
	var spans []span
	n := len(s.uids)
	for _, r := range set {
		if uid {
			if n == 0 {
				continue
			}
			lo, hi := r.Bounds(s.maxUID())
			i := sort.Search(n, func(i int) bool { return s.uids[i] >= lo })
			j := sort.Search(n, func(i int) bool { return s.uids[i] > hi }) - 1
			if i <= j {
				spans = append(spans, span{i, j})
			}
			continue
		}
		lo, hi := r.Bounds(uint32(n))
		if lo == 0 || int(hi) > n {
			if n == 0 {
				return nil, imap.Bad("The mailbox is empty: no sequence number is valid")
			}
			return nil, imap.Bad("Invalid sequence number: the mailbox has %d messages", n)
		}
		spans = append(spans, span{int(lo) - 1, int(hi) - 1})
	}
	slices.SortFunc(spans, func(a, b span) int { return a.lo - b.lo })
	var idx []int
	next := 0
	for _, sp := range spans {
		for i := max(sp.lo, next); i <= sp.hi; i++ {
			idx = append(idx, i)
		}
		next = max(next, sp.hi+1)
	}
	return idx, nil
}

// cmdSelect opens a mailbox read-write, or read-only for EXAMINE (RFC 3501
// sections 6.3.1 and 6.3.2). A mailbox already selected is closed first,
// without expunging, even if the new one cannot be opened.
//
//	C: a1 SELECT INBOX
//	S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
//	S: * 3 EXISTS
//	S: * 1 RECENT
//	S: * OK [UNSEEN 2] Message 2 is the first unseen
//	S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags you can change
//	S: * OK [UIDNEXT 4] Predicted next UID
//	S: * OK [UIDVALIDITY 1714000000] UIDs valid
//	S: a1 OK [READ-WRITE] SELECT completed
func (c *conn) cmdSelect(cmd *imap.Command) error {
	if err := nargs(cmd, 1, 1); err != nil {
		return err
	}
	name, err := mailboxArg(cmd, 0)
	if err != nil {
		return err
	}
	c.unselect()
	readOnly := cmd.Name == "EXAMINE"
	mbox, err := c.user.Open(name, readOnly)
	if err != nil {
		return err
	}
	s := &selected{name: name, mbox: mbox, readOnly: readOnly}
	s.hr, _ = mbox.(HeaderReader)
	flags := []string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`}
	unseen := 0
	// The messages, with their flags, sizes and dates, are only read
	// here: the session keeps their UIDs.
	msgs := mbox.Messages()
	if l, ok := mbox.(UIDLister); ok {
		s.uids, s.sharedUIDs = slices.Clip(l.UIDs()), true
	}
	if len(s.uids) != len(msgs) {
		s.uids, s.sharedUIDs = make([]uint32, len(msgs)), false
	}
	for i, m := range msgs {
		if s.uids[i] != m.UID {
			s.ownUIDs() // a Mailbox that does not keep the contract
			s.uids[i] = m.UID
		}
		if m.Recent {
			s.recent = append(s.recent, m.UID)
		}
		seen := false
		for _, f := range m.Flags {
			if f == `\Seen` {
				seen = true
			} else if !slices.Contains(flags, f) {
				flags = append(flags, f)
			}
		}
		if !seen && unseen == 0 {
			unseen = i + 1
		}
	}
	s.recent = slices.Clip(s.recent)
	n := len(msgs)
	c.sel = s
	c.setState(imap.StateSelected)

	c.untagged("FLAGS (%s)", strings.Join(flags, " "))
	c.untagged("%d EXISTS", n)
	c.untagged("%d RECENT", len(s.recent))
	if unseen > 0 {
		c.untagged("OK [UNSEEN %d] Message %d is the first unseen", unseen, unseen)
	}
	perm := mbox.PermanentFlags()
	if readOnly {
		perm = nil // RFC 3501 section 6.3.2: nothing can be changed
	}
	c.untagged("OK [PERMANENTFLAGS (%s)] Flags you can change", strings.Join(perm, " "))
	v, next := mbox.Info()
	c.untagged("OK [UIDNEXT %d] Predicted next UID", next)
	c.untagged("OK [UIDVALIDITY %d] UIDs valid", v)
	c.tr.Note("selected " + name)
	if readOnly {
		return ok(imap.CodeReadOnly, "EXAMINE completed")
	}
	return ok(imap.CodeReadWrite, "SELECT completed")
}

// unselect closes the selected mailbox, if any, without expunging.
func (c *conn) unselect() {
	if c.sel == nil {
		return
	}
	if err := c.sel.mbox.Close(); err != nil {
		c.opts.Logger.Error("imapserver: closing mailbox", "mailbox", c.sel.name, "err", err)
	}
	c.sel = nil
	c.setState(imap.StateAuthenticated)
}

// cmdCheck asks for a checkpoint (RFC 3501 section 6.4.1); the backends
// commit every change at once, so it only reports updates.
//
//	C: a2 CHECK
//	S: a2 OK CHECK completed
func (c *conn) cmdCheck(cmd *imap.Command) error { return nargs(cmd, 0, 0) }

// cmdClose expunges silently, unless read-only, and unselects (RFC 3501
// section 6.4.2: no untagged EXPUNGE).
//
//	C: a3 CLOSE
//	S: a3 OK CLOSE completed
func (c *conn) cmdClose(cmd *imap.Command) error {
	if err := nargs(cmd, 0, 0); err != nil {
		return err
	}
	var err error
	if !c.sel.readOnly {
		_, err = c.sel.mbox.Expunge(nil)
	}
	c.unselect()
	return err
}

// cmdUnselect unselects without expunging (RFC 3691 section 2).
//
//	C: a4 UNSELECT
//	S: a4 OK UNSELECT completed
func (c *conn) cmdUnselect(cmd *imap.Command) error {
	if err := nargs(cmd, 0, 0); err != nil {
		return err
	}
	c.unselect()
	return nil
}

// cmdExpunge removes the messages marked \Deleted (RFC 3501 section 6.4.3),
// or only those in a UID set (UID EXPUNGE, RFC 4315 section 2.1).
//
//	C: a5 EXPUNGE
//	S: * 3 EXPUNGE
//	S: a5 OK EXPUNGE completed
func (c *conn) cmdExpunge(cmd *imap.Command) error {
	var uids []uint32
	if cmd.Name == "UID EXPUNGE" {
		if err := nargs(cmd, 1, 1); err != nil {
			return err
		}
		set, err := seqSetArg(cmd, 0)
		if err != nil {
			return err
		}
		idx, err := c.sel.resolve(set, true)
		if err != nil {
			return err
		}
		uids = make([]uint32, 0, len(idx))
		for _, i := range idx {
			uids = append(uids, c.sel.uids[i])
		}
		if len(uids) == 0 {
			return nil
		}
	} else if err := nargs(cmd, 0, 0); err != nil {
		return err
	}
	if c.sel.readOnly {
		return imap.No("The mailbox is read-only (EXAMINE)")
	}
	removed, err := c.sel.mbox.Expunge(uids)
	if err != nil {
		return err
	}
	c.expunged(removed)
	return nil
}

// expunged sends "* n EXPUNGE" for each UID the session removed itself,
// in ascending UID order, each number counted after the previous removal
// (RFC 3501 section 7.4.1).
func (c *conn) expunged(uids []uint32) {
	s := c.sel
	for _, uid := range uids {
		i := s.find(uid)
		if i < 0 {
			continue
		}
		s.removeAt(i)
		c.untagged("%d EXPUNGE", i+1)
	}
}

// reportUpdates applies other sessions' changes to the view and tells the
// client: new messages as EXISTS (and RECENT), flag changes as FETCH, and,
// when allowExpunge, removals as EXPUNGE.
func (c *conn) reportUpdates(allowExpunge bool) {
	s := c.sel
	if s == nil {
		return
	}
	exists := false
	for _, u := range s.mbox.Updates() {
		switch u.Kind {
		case UpdateExists:
			if u.UID <= s.maxUID() {
				continue // already in the view
			}
			s.ownUIDs()
			s.uids = append(s.uids, u.UID)
			if u.Recent {
				s.recent = append(s.recent, u.UID)
			}
			exists = true
		case UpdateFlags:
			i := s.find(u.UID)
			if i < 0 || s.isGone(u.UID) {
				continue
			}
			m := u.Message
			m.Recent = s.isRecent(u.UID)
			// RFC 9051 section 7.5.2: unsolicited FETCH carries the UID.
			c.untagged("%d FETCH (UID %d FLAGS (%s))", i+1, u.UID, strings.Join(flagList(m), " "))
		case UpdateExpunge:
			if i := s.find(u.UID); i >= 0 {
				if j, ok := slices.BinarySearch(s.gone, u.UID); !ok {
					s.gone = slices.Insert(s.gone, j, u.UID)
				}
			}
			s.cache.forget(u.UID)
		}
	}
	if exists {
		c.untagged("%d EXISTS", len(s.uids))
		c.untagged("%d RECENT", len(s.recent))
	}
	changed := exists
	if allowExpunge && len(s.gone) > 0 {
		for _, uid := range slices.Clone(s.gone) {
			if i := s.find(uid); i >= 0 {
				s.removeAt(i)
				c.untagged("%d EXPUNGE", i+1)
			}
		}
		s.gone = nil
		changed = true
	}
	if changed {
		s.reshareUIDs()
	}
}

// reshareUIDs goes back to the Mailbox's shared array of UIDs (UIDLister)
// when it holds exactly the session's: after a delivery, every session
// that took it would otherwise keep a copy of its own.
func (s *selected) reshareUIDs() {
	l, ok := s.mbox.(UIDLister)
	if !ok || s.sharedUIDs || len(s.gone) > 0 {
		return
	}
	if u := l.UIDs(); slices.Equal(u, s.uids) {
		s.uids, s.sharedUIDs = slices.Clip(u), true
	}
}

// flagList is a message's flags as FETCH FLAGS shows them: \Recent added
// for the session that sees it as recent.
func flagList(m Message) []string {
	if !m.Recent {
		return m.Flags
	}
	return append(slices.Clip(m.Flags), `\Recent`)
}

func seqSetArg(cmd *imap.Command, i int) (imap.SeqSet, error) {
	a := cmd.Args[i]
	if a.Kind != imap.ArgAtom {
		return nil, imap.Bad("%s: expected a sequence set such as 1:4,7,*", cmd.Name)
	}
	set, err := imap.ParseSeqSet(a.Text)
	if err != nil {
		return nil, imap.Bad("%s: %s", cmd.Name, trimPkg(err))
	}
	return set, nil
}

// cmdStore changes flags (RFC 3501 section 6.4.6) and reports the new ones
// with untagged FETCH, unless .SILENT.
//
//	C: a6 STORE 2 +FLAGS (\Deleted)
//	S: * 2 FETCH (FLAGS (\Deleted \Seen))
//	S: a6 OK STORE completed
func (c *conn) cmdStore(cmd *imap.Command) error {
	if len(cmd.Args) < 3 {
		return imap.Bad("%s wants a set, an item (FLAGS, +FLAGS, -FLAGS[.SILENT]) and flags", cmd.Name)
	}
	isUID := strings.HasPrefix(cmd.Name, "UID ")
	set, err := seqSetArg(cmd, 0)
	if err != nil {
		return err
	}
	if cmd.Args[1].Kind != imap.ArgAtom {
		return imap.Bad("%s: expected FLAGS, +FLAGS or -FLAGS", cmd.Name)
	}
	mode, silent, err := imap.ParseStoreItem(cmd.Args[1].Text)
	if err != nil {
		return imap.Bad("%s", trimPkg(err))
	}
	flags, err := imap.ParseFlags(cmd.Args[2:])
	if err != nil {
		return imap.Bad("%s", trimPkg(err))
	}
	idx, err := c.sel.resolve(set, isUID)
	if err != nil {
		return err
	}
	if c.sel.readOnly {
		return imap.No("The mailbox is read-only (EXAMINE)")
	}
	op := map[byte]StoreOp{0: StoreReplace, '+': StoreAdd, '-': StoreRemove}[mode]
	uids := c.sel.live(idx)
	if len(uids) == 0 {
		return nil
	}
	changed, err := c.sel.mbox.Store(uids, op, flags)
	if err != nil {
		return err
	}
	for _, m := range changed {
		i := c.sel.find(m.UID)
		if i < 0 {
			continue
		}
		if silent {
			continue
		}
		m.Recent = c.sel.isRecent(m.UID)
		fl := strings.Join(flagList(m), " ")
		if isUID {
			c.untagged("%d FETCH (UID %d FLAGS (%s))", i+1, m.UID, fl)
		} else {
			c.untagged("%d FETCH (FLAGS (%s))", i+1, fl)
		}
	}
	return nil
}

// cmdCopy copies messages to another mailbox (RFC 3501 section 6.4.7) and
// names their new UIDs (RFC 4315 section 3, COPYUID).
//
//	C: a7 COPY 1:2 Archive
//	S: a7 OK [COPYUID 1714000001 1:2 5:6] COPY completed
func (c *conn) cmdCopy(cmd *imap.Command) error {
	uids, dest, err := c.copyArgs(cmd)
	if err != nil || len(uids) == 0 {
		return err
	}
	v, pairs, err := c.sel.mbox.Copy(uids, dest)
	if err != nil {
		return tryCreate(err, dest)
	}
	if len(pairs) == 0 {
		return nil
	}
	return ok(copyUID(v, pairs), "%s completed", cmd.Name)
}

// cmdMove moves messages (RFC 6851 section 3.3): untagged OK [COPYUID],
// then an EXPUNGE for each moved message, then the tagged OK.
//
//	C: a8 MOVE 2 Trash
//	S: * OK [COPYUID 1714000002 2 9] Moved
//	S: * 2 EXPUNGE
//	S: a8 OK MOVE completed
func (c *conn) cmdMove(cmd *imap.Command) error {
	uids, dest, err := c.copyArgs(cmd)
	if err != nil || len(uids) == 0 {
		return err
	}
	if c.sel.readOnly {
		return imap.No("The mailbox is read-only (EXAMINE): messages cannot be moved out of it")
	}
	v, pairs, err := c.sel.mbox.Move(uids, dest)
	if err != nil {
		return tryCreate(err, dest)
	}
	if len(pairs) > 0 {
		c.untagged("OK [%s] Moved", copyUID(v, pairs))
	}
	moved := make([]uint32, len(pairs))
	for i, p := range pairs {
		moved[i] = p[0]
	}
	slices.Sort(moved)
	c.expunged(moved)
	return nil
}

func (c *conn) copyArgs(cmd *imap.Command) ([]uint32, string, error) {
	if err := nargs(cmd, 2, 2); err != nil {
		return nil, "", err
	}
	set, err := seqSetArg(cmd, 0)
	if err != nil {
		return nil, "", err
	}
	dest, err := mailboxArg(cmd, 1)
	if err != nil {
		return nil, "", err
	}
	idx, err := c.sel.resolve(set, strings.HasPrefix(cmd.Name, "UID "))
	if err != nil {
		return nil, "", err
	}
	return c.sel.live(idx), dest, nil
}

// tryCreate maps a missing destination to NO [TRYCREATE] (RFC 3501
// section 6.4.7).
func tryCreate(err error, dest string) error {
	if errors.Is(err, ErrNoSuchMailbox) {
		return imap.Errorf(imap.NO, imap.CodeTryCreate, "No such mailbox %s", dest)
	}
	return err
}

// copyUID renders the COPYUID code (RFC 4315 section 3): the source and
// destination UIDs in matching order.
func copyUID(v uint32, pairs [][2]uint32) string {
	src := make([]uint32, len(pairs))
	dst := make([]uint32, len(pairs))
	for i, p := range pairs {
		src[i], dst[i] = p[0], p[1]
	}
	return "COPYUID " + itoa(v) + " " + imap.SeqSetOf(src).String() + " " + imap.SeqSetOf(dst).String()
}
