package mda

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/protocols/pop3"
	"github.com/maillab/maillab/protocols/pop3/pop3server"
)

// pop3Backend serves the users' INBOXes to the POP3 server.
type pop3Backend struct{ m *MDA }

// Login checks the password and opens the user's maildrop.
//
//	C: USER bob
//	S: +OK ...
//	C: PASS ***
//	S: +OK bob's maildrop has 2 messages (1024 octets)
func (b pop3Backend) Login(user, pass string) (pop3server.Maildrop, error) {
	addr, ok := b.m.authenticate(user, func(secret string) bool { return equal(pass, secret) })
	if !ok {
		return nil, pop3.ErrAuth
	}
	return b.m.openMaildrop(addr)
}

// APOP checks the digest made from the greeting's timestamp and the
// user's password, the shared secret (RFC 1939 section 7).
//
//	S: +OK maillab POP3 server ready <1.2.3@mda.b.test>
//	C: APOP bob c4c9334bac560ecc979e58001b3e22fb
func (b pop3Backend) APOP(user, timestamp, digest string) (pop3server.Maildrop, error) {
	addr, ok := b.m.authenticate(user, func(secret string) bool {
		return equal(strings.ToLower(digest), pop3.APOPDigest(timestamp, secret))
	})
	if !ok {
		return nil, pop3.ErrAuth
	}
	return b.m.openMaildrop(addr)
}

// openMaildrop takes the POP3 lock of addr's maildrop and selects its
// INBOX: the session sees the messages as they are now (RFC 1939 section
// 4), and mail delivered later waits for the next session.
func (m *MDA) openMaildrop(addr string) (pop3server.Maildrop, error) {
	u, err := m.cfg.Store.User(addr)
	if err != nil {
		return nil, err
	}
	lock, err := u.LockMaildrop()
	if errors.Is(err, mailbox.ErrMaildropLocked) {
		// RFC 2449 section 8.1.1: [IN-USE], another session has it.
		return nil, pop3.ErrInUse
	}
	if err != nil {
		return nil, err
	}
	// Read-write, like an IMAP SELECT: new/ files move to cur/ and lose
	// \Recent, as with Dovecot's POP3 server. Flags are never changed.
	v, err := u.Select(mailbox.Inbox, false)
	if err != nil {
		_ = lock.Unlock()
		return nil, err
	}
	return &maildrop{v: v, lock: lock, msgs: v.Messages()}, nil
}

// maildrop is one POP3 session's locked INBOX.
type maildrop struct {
	v    *mailbox.View
	lock *mailbox.MaildropLock
	msgs []mailbox.MessageInfo // as of login, UID order: message n is msgs[n-1]
}

// Messages lists the INBOX as of login, in UID (delivery) order.
//
//	C: UIDL
//	S: +OK
//	S: 1 1768469400.M0P42Q1.mda.b.test,S=512
func (d *maildrop) Messages() ([]pop3server.MessageInfo, error) {
	out := make([]pop3server.MessageInfo, len(d.msgs))
	for i, m := range d.msgs {
		out[i] = pop3server.MessageInfo{Size: m.Size, UID: uidl(m.Key)}
	}
	return out, nil
}

// uidl is the unique-id listing of a message: its Maildir key, which
// stays when flags change, when it is a valid one (RFC 1939 section 7: 1
// to 70 characters in 0x21..0x7E). Otherwise — a long hostname, a file
// named by another program — "K" and 32 hex digits of the key's SHA-256:
// as stable as the key, and unique in practice.
func uidl(key string) string {
	ok := len(key) >= 1 && len(key) <= 70
	for i := 0; ok && i < len(key); i++ {
		ok = key[i] >= 0x21 && key[i] <= 0x7e
	}
	if ok {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "K" + hex.EncodeToString(sum[:16])
}

// Open returns the file of message i; it stays readable even if another
// session renames or removes it meanwhile.
func (d *maildrop) Open(i int) (io.ReadCloser, error) {
	if i < 0 || i >= len(d.msgs) {
		return nil, fmt.Errorf("mda: POP3 message index %d out of range", i)
	}
	return d.v.Open(d.msgs[i].UID)
}

// Update removes the messages marked with DELE (RFC 1939 section 6, the
// UPDATE state, after QUIT).
//
//	C: QUIT
//	S: +OK maillab POP3 server signing off (1 messages deleted)
func (d *maildrop) Update(deleted []int) error {
	uids := make([]uint32, 0, len(deleted))
	for _, i := range deleted {
		if i >= 0 && i < len(d.msgs) {
			uids = append(uids, d.msgs[i].UID)
		}
	}
	_, err := d.v.Expunge(uids)
	return err
}

// Close ends the View and releases the maildrop lock.
func (d *maildrop) Close() error {
	return errors.Join(d.v.Close(), d.lock.Unlock())
}
