package pop3server

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/maillab/maillab/protocols/pop3"
)

// MemoryBackend keeps maildrops in memory, for tests and demonstrations.
// The zero value is ready to use; add users with AddUser. The APOP shared
// secret is the password.
type MemoryBackend struct {
	mu      sync.Mutex
	users   map[string]*memoryUser
	nextUID int
}

type memoryUser struct {
	password string
	locked   bool
	msgs     []memoryMessage
}

type memoryMessage struct {
	uid  string
	text []byte // lines end in CRLF
}

// AddUser creates a user with an empty maildrop, or changes the password
// of an existing one.
func (b *MemoryBackend) AddUser(name, password string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.users == nil {
		b.users = map[string]*memoryUser{}
	}
	if u, ok := b.users[name]; ok {
		u.password = password
		return
	}
	b.users[name] = &memoryUser{password: password}
}

// Deliver appends a message to user's maildrop, with its line endings made
// CRLF, and returns its unique-id. It panics if the user does not exist:
// that is a mistake in a test.
func (b *MemoryBackend) Deliver(user string, text []byte) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.users[user]
	if !ok {
		panic("pop3server: MemoryBackend.Deliver: no user " + user)
	}
	b.nextUID++
	uid := fmt.Sprintf("mem-%d", b.nextUID)
	u.msgs = append(u.msgs, memoryMessage{uid: uid, text: toCRLF(text)})
	return uid
}

// toCRLF makes every line ending CRLF.
func toCRLF(text []byte) []byte {
	text = bytes.ReplaceAll(text, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(text, []byte("\n"), []byte("\r\n"))
}

// Messages returns the texts in user's maildrop now.
func (b *MemoryBackend) Messages(user string) [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.users[user]
	if !ok {
		return nil
	}
	out := make([][]byte, len(u.msgs))
	for i, m := range u.msgs {
		out[i] = slices.Clone(m.text)
	}
	return out
}

// Locked reports whether a session holds user's maildrop.
func (b *MemoryBackend) Locked(user string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.users[user]
	return ok && u.locked
}

// Login implements Backend.
func (b *MemoryBackend) Login(user, pass string) (Maildrop, error) {
	return b.open(user, func(u *memoryUser) bool { return u.password == pass })
}

// APOP implements Backend: digest must be pop3.APOPDigest(timestamp,
// password).
func (b *MemoryBackend) APOP(user, timestamp, digest string) (Maildrop, error) {
	return b.open(user, func(u *memoryUser) bool { return pop3.APOPDigest(timestamp, u.password) == digest })
}

func (b *MemoryBackend) open(user string, check func(*memoryUser) bool) (Maildrop, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.users[user]
	if !ok || !check(u) {
		return nil, pop3.ErrAuth
	}
	if u.locked {
		return nil, pop3.ErrInUse
	}
	u.locked = true
	return &memoryDrop{b: b, u: u, msgs: slices.Clone(u.msgs)}, nil
}

// memoryDrop is one session's view of a maildrop: the messages at login.
type memoryDrop struct {
	b      *MemoryBackend
	u      *memoryUser
	msgs   []memoryMessage
	closed bool
}

func (d *memoryDrop) Messages() ([]MessageInfo, error) {
	out := make([]MessageInfo, len(d.msgs))
	for i, m := range d.msgs {
		out[i] = MessageInfo{Size: int64(len(m.text)), UID: m.uid}
	}
	return out, nil
}

func (d *memoryDrop) Open(i int) (io.ReadCloser, error) {
	if i < 0 || i >= len(d.msgs) {
		return nil, fmt.Errorf("pop3server: memory maildrop: no message at index %d", i)
	}
	return io.NopCloser(bytes.NewReader(d.msgs[i].text)), nil
}

// Update removes the messages by unique-id, so mail delivered during the
// session stays.
func (d *memoryDrop) Update(deleted []int) error {
	gone := map[string]bool{}
	for _, i := range deleted {
		if i < 0 || i >= len(d.msgs) {
			return fmt.Errorf("pop3server: memory maildrop: no message at index %d", i)
		}
		gone[d.msgs[i].uid] = true
	}
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	d.u.msgs = slices.DeleteFunc(d.u.msgs, func(m memoryMessage) bool { return gone[m.uid] })
	return nil
}

func (d *memoryDrop) Close() error {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	if !d.closed {
		d.closed = true
		d.u.locked = false
	}
	return nil
}
