package imapserver

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/maillab/maillab/protocols/imap"
	"github.com/maillab/maillab/protocols/imap/imapmsg"
)

// MemoryBackend keeps users and mailboxes in memory, for tests and small
// scenarios. It is safe for concurrent use: one lock guards everything, and
// changes fan out to every open handle of a mailbox as Updates.
type MemoryBackend struct {
	mu    sync.Mutex
	users map[string]*memUser
	now   func() time.Time
	next  uint32 // source of UIDVALIDITY values
}

// NewMemoryBackend returns an empty backend; add users with AddUser.
func NewMemoryBackend() *MemoryBackend {
	return &MemoryBackend{users: map[string]*memUser{}, now: time.Now, next: 1}
}

type memUser struct {
	name, pass string
	boxes      map[string]*memBox
	subscribed map[string]bool
}

type memBox struct {
	name        string
	uidValidity uint32
	uidNext     uint32
	msgs        []*memMsg
	handles     map[*memHandle]struct{}
}

type memMsg struct {
	uid    uint32
	flags  []string
	date   time.Time
	body   []byte
	recent bool // no session has been told about it yet (RFC 3501 section 2.3.2)
}

// AddUser creates a user with an empty INBOX (replacing one of that name).
func (b *MemoryBackend) AddUser(name, pass string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u := &memUser{name: name, pass: pass, boxes: map[string]*memBox{}, subscribed: map[string]bool{}}
	u.boxes["INBOX"] = b.newBox("INBOX")
	b.users[name] = u
}

func (b *MemoryBackend) newBox(name string) *memBox {
	b.next++
	return &memBox{name: name, uidValidity: b.next, uidNext: 1, handles: map[*memHandle]struct{}{}}
}

// Deliver adds a message to a user's mailbox as an MDA would, with no
// session's involvement; open handles see it as UpdateExists.
func (b *MemoryBackend) Deliver(user, mailbox string, body []byte, flags ...string) (uid uint32, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.users[user]
	if !ok {
		return 0, fmt.Errorf("imapserver: memory backend: no user %q", user)
	}
	box, ok := u.boxes[imap.CanonicalMailbox(mailbox)]
	if !ok {
		return 0, ErrNoSuchMailbox
	}
	return b.add(box, flags, b.now(), slices.Clone(body)), nil
}

// add stores a message and tells the open handles. b.mu is held.
func (b *MemoryBackend) add(box *memBox, flags []string, date time.Time, body []byte) uint32 {
	m := &memMsg{uid: box.uidNext, flags: slices.Clone(flags), date: date, body: body, recent: true}
	box.uidNext++
	box.msgs = append(box.msgs, m)
	// RFC 3501 section 2.3.2: exactly one session sees \Recent; the first
	// read-write handle gets it.
	handles := box.sortedHandles()
	for _, h := range handles {
		recent := false
		if m.recent && !h.readOnly {
			recent, m.recent = true, false
		}
		h.push(Update{Kind: UpdateExists, Message: m.view(recent)})
	}
	return m.uid
}

func (m *memMsg) view(recent bool) Message {
	return Message{UID: m.uid, Flags: slices.Clone(m.flags), Recent: recent, Size: int64(len(m.body)), InternalDate: m.date}
}

// sortedHandles lists the handles in opening order, so that tests are
// deterministic about which one gets \Recent.
func (box *memBox) sortedHandles() []*memHandle {
	hs := make([]*memHandle, 0, len(box.handles))
	for h := range box.handles {
		hs = append(hs, h)
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].seq < hs[j].seq })
	return hs
}

// Login implements Backend.
func (b *MemoryBackend) Login(user, pass string) (User, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.users[user]
	if !ok || u.pass != pass {
		return nil, ErrAuthFailed
	}
	return &memSession{b: b, u: u}, nil
}

type memSession struct {
	b *MemoryBackend
	u *memUser
}

func (s *memSession) Name() string { return s.u.name }

func (s *memSession) List(ref, pattern string, subscribedOnly bool) ([]MailboxInfo, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	// RFC 3501 section 6.3.8: the reference is prefixed to the pattern.
	full := ref + pattern
	var names []string
	if subscribedOnly {
		for n := range s.u.subscribed {
			names = append(names, n)
		}
	} else {
		for n := range s.u.boxes {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []MailboxInfo
	for _, n := range names {
		if imap.MatchMailbox(full, n, '/') {
			out = append(out, MailboxInfo{Name: n, Attributes: []string{}})
		}
	}
	return out, nil
}

func (s *memSession) Create(name string) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if _, ok := s.u.boxes[name]; ok {
		return ErrMailboxExists
	}
	s.u.boxes[name] = s.b.newBox(name)
	return nil
}

func (s *memSession) Delete(name string) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if name == "INBOX" {
		return ErrCannot
	}
	if _, ok := s.u.boxes[name]; !ok {
		return ErrNoSuchMailbox
	}
	delete(s.u.boxes, name)
	return nil
}

func (s *memSession) Rename(oldName, newName string) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	box, ok := s.u.boxes[oldName]
	if !ok {
		return ErrNoSuchMailbox
	}
	if _, ok := s.u.boxes[newName]; ok {
		return ErrMailboxExists
	}
	if oldName == "INBOX" {
		// RFC 3501 section 6.3.5: renaming INBOX moves its messages to the
		// new mailbox and leaves INBOX empty.
		nb := s.b.newBox(newName)
		for _, m := range box.msgs {
			s.b.add(nb, m.flags, m.date, m.body)
		}
		s.u.boxes[newName] = nb
		for _, m := range box.msgs {
			for _, h := range box.sortedHandles() {
				h.push(Update{Kind: UpdateExpunge, Message: Message{UID: m.uid}})
			}
		}
		box.msgs = nil
		return nil
	}
	// Inferior names move along (RFC 3501 section 6.3.5).
	for n, b := range s.u.boxes {
		if n == oldName || strings.HasPrefix(n, oldName+"/") {
			delete(s.u.boxes, n)
			b.name = newName + strings.TrimPrefix(n, oldName)
			s.u.boxes[b.name] = b
		}
	}
	return nil
}

func (s *memSession) Subscribe(name string) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if _, ok := s.u.boxes[name]; !ok {
		return ErrNoSuchMailbox
	}
	s.u.subscribed[name] = true
	return nil
}

func (s *memSession) Unsubscribe(name string) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if !s.u.subscribed[name] {
		return imap.No("Not subscribed to %s", name)
	}
	delete(s.u.subscribed, name)
	return nil
}

func (s *memSession) Status(name string) (MailboxStatus, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	box, ok := s.u.boxes[name]
	if !ok {
		return MailboxStatus{}, ErrNoSuchMailbox
	}
	st := MailboxStatus{Messages: uint32(len(box.msgs)), UIDNext: box.uidNext, UIDValidity: box.uidValidity}
	for _, m := range box.msgs {
		if m.recent {
			st.Recent++
		}
		if !slices.Contains(m.flags, `\Seen`) {
			st.Unseen++
		}
	}
	return st, nil
}

func (s *memSession) Append(name string, flags []string, date time.Time, body []byte) (uint32, uint32, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	box, ok := s.u.boxes[name]
	if !ok {
		return 0, 0, ErrNoSuchMailbox
	}
	return box.uidValidity, s.b.add(box, flags, date, slices.Clone(body)), nil
}

func (s *memSession) Open(name string, readOnly bool) (Mailbox, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	box, ok := s.u.boxes[name]
	if !ok {
		return nil, ErrNoSuchMailbox
	}
	s.b.next++
	h := &memHandle{b: s.b, u: s.u, box: box, readOnly: readOnly, seq: s.b.next, notify: make(chan struct{}, 1)}
	for _, m := range box.msgs {
		recent := m.recent
		if !readOnly {
			// RFC 3501 section 6.3.2: EXAMINE leaves \Recent alone.
			m.recent = false
		}
		h.initial = append(h.initial, m.view(recent))
	}
	box.handles[h] = struct{}{}
	return h, nil
}

func (s *memSession) Logout() error { return nil }

type memHandle struct {
	b        *MemoryBackend
	u        *memUser
	box      *memBox
	readOnly bool
	seq      uint32
	initial  []Message
	pending  []Update
	notify   chan struct{}
	closed   bool
}

// push queues an update. b.mu is held.
func (h *memHandle) push(u Update) {
	h.pending = append(h.pending, u)
	select {
	case h.notify <- struct{}{}:
	default:
	}
}

// others calls f for the handles of h's mailbox but h. b.mu is held.
func (h *memHandle) others(f func(*memHandle)) {
	for _, o := range h.box.sortedHandles() {
		if o != h {
			f(o)
		}
	}
}

func (h *memHandle) Info() (uint32, uint32) {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	return h.box.uidValidity, h.box.uidNext
}

func (h *memHandle) Messages() []Message {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	m := h.initial
	h.initial = nil // called once: the server keeps what it needs
	return m
}

// Lookup implements Mailbox: the messages as they are now.
func (h *memHandle) Lookup(uids []uint32) []Message {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	out := make([]Message, len(uids))
	for i, uid := range uids {
		if _, m := h.msg(uid); m != nil {
			out[i] = m.view(false)
		}
	}
	return out
}

func (h *memHandle) msg(uid uint32) (int, *memMsg) {
	i := sort.Search(len(h.box.msgs), func(i int) bool { return h.box.msgs[i].uid >= uid })
	if i < len(h.box.msgs) && h.box.msgs[i].uid == uid {
		return i, h.box.msgs[i]
	}
	return -1, nil
}

func (h *memHandle) Read(uid uint32) ([]byte, error) {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	_, m := h.msg(uid)
	if m == nil {
		return nil, fmt.Errorf("imapserver: memory backend: no message with UID %d", uid)
	}
	return m.body, nil
}

// ReadHeader implements HeaderReader.
func (h *memHandle) ReadHeader(uid uint32) ([]byte, error) {
	raw, err := h.Read(uid)
	if err != nil {
		return nil, err
	}
	header, _ := imapmsg.SplitHeader(raw)
	return header, nil
}

func (h *memHandle) Store(uids []uint32, op StoreOp, flags []string) ([]Message, error) {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	if h.readOnly {
		return nil, ErrCannot
	}
	var out []Message
	for _, uid := range uids {
		_, m := h.msg(uid)
		if m == nil {
			continue
		}
		switch op {
		case StoreReplace:
			m.flags = nil
			fallthrough
		case StoreAdd:
			for _, f := range flags {
				if !slices.Contains(m.flags, f) {
					m.flags = append(m.flags, f)
				}
			}
		case StoreRemove:
			m.flags = slices.DeleteFunc(m.flags, func(f string) bool { return slices.Contains(flags, f) })
		}
		out = append(out, Message{UID: uid, Flags: slices.Clone(m.flags)})
		h.others(func(o *memHandle) {
			o.push(Update{Kind: UpdateFlags, Message: Message{UID: uid, Flags: slices.Clone(m.flags)}})
		})
	}
	return out, nil
}

func (h *memHandle) Copy(uids []uint32, dest string) (uint32, [][2]uint32, error) {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	return h.copyLocked(uids, dest)
}

func (h *memHandle) copyLocked(uids []uint32, dest string) (uint32, [][2]uint32, error) {
	db, ok := h.u.boxes[dest]
	if !ok {
		return 0, nil, ErrNoSuchMailbox
	}
	var pairs [][2]uint32
	var src []*memMsg
	for _, uid := range uids {
		if _, m := h.msg(uid); m != nil {
			src = append(src, m)
		}
	}
	for _, m := range src {
		nu := h.b.add(db, m.flags, m.date, m.body)
		pairs = append(pairs, [2]uint32{m.uid, nu})
	}
	return db.uidValidity, pairs, nil
}

func (h *memHandle) Move(uids []uint32, dest string) (uint32, [][2]uint32, error) {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	if h.readOnly {
		return 0, nil, ErrCannot
	}
	if dest == h.box.name {
		return 0, nil, imap.Errorf(imap.NO, imap.CodeCannot, "Source and destination are the same mailbox")
	}
	v, pairs, err := h.copyLocked(uids, dest)
	if err != nil {
		return 0, nil, err
	}
	moved := make([]uint32, len(pairs))
	for i, p := range pairs {
		moved[i] = p[0]
	}
	h.remove(moved)
	return v, pairs, nil
}

// remove deletes messages and tells the other handles. b.mu is held.
func (h *memHandle) remove(uids []uint32) {
	for _, uid := range uids {
		i, m := h.msg(uid)
		if m == nil {
			continue
		}
		h.box.msgs = slices.Delete(h.box.msgs, i, i+1)
		h.others(func(o *memHandle) { o.push(Update{Kind: UpdateExpunge, Message: Message{UID: uid}}) })
	}
}

func (h *memHandle) Expunge(uids []uint32) ([]uint32, error) {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	if h.readOnly {
		return nil, ErrCannot
	}
	var del []uint32
	for _, m := range h.box.msgs {
		if slices.Contains(m.flags, `\Deleted`) && (uids == nil || slices.Contains(uids, m.uid)) {
			del = append(del, m.uid)
		}
	}
	h.remove(del)
	return del, nil
}

func (h *memHandle) Notify() <-chan struct{} { return h.notify }

func (h *memHandle) Updates() []Update {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	u := h.pending
	h.pending = nil
	return u
}

func (h *memHandle) PermanentFlags() []string {
	return []string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`, `\*`}
}

func (h *memHandle) Close() error {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	if !h.closed {
		h.closed = true
		delete(h.box.handles, h)
	}
	return nil
}
