package smtpserver

import (
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
)

// MemoryBackend keeps accepted messages in memory, for tests and small
// scenarios. The zero value accepts every recipient. It is safe for
// concurrent use; its sessions implement LMTPSession.
type MemoryBackend struct {
	// Mailboxes, when not empty, are the only recipients accepted
	// ("bob@example.test", compared without regard to case); others get
	// 550 5.1.1 at RCPT.
	Mailboxes []string
	// Deliver, when set, decides each recipient's result after the message
	// is received (the LMTP per-recipient reply); nil accepts all. A
	// recipient it refuses does not get the message.
	Deliver func(to mail.Path) error

	mu       sync.Mutex
	messages []MemoryMessage
	aborted  int
}

// MemoryMessage is one message a MemoryBackend accepted.
type MemoryMessage struct {
	Helo string
	From mail.Path
	To   []mail.Path
	Data []byte // as received: CRLF line endings, dot-stuffing removed
}

// Messages returns a copy of the accepted messages, in order.
func (b *MemoryBackend) Messages() []MemoryMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.messages)
}

// Aborted returns how many DATA transfers ended without a complete message
// (client gone, message refused), none of which was stored.
func (b *MemoryBackend) Aborted() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.aborted
}

// NewSession implements Backend.
func (b *MemoryBackend) NewSession(c *ConnInfo) (Session, error) {
	return &memorySession{b: b, info: c}, nil
}

type memorySession struct {
	b    *MemoryBackend
	info *ConnInfo
	from mail.Path
	to   []mail.Path
}

func (s *memorySession) Mail(from mail.Path, _ smtp.MailParams) error {
	s.from, s.to = from, nil
	return nil
}

func (s *memorySession) Rcpt(to mail.Path) error {
	if len(s.b.Mailboxes) > 0 && !to.IsNull() && to.Domain != "" {
		if !slices.ContainsFunc(s.b.Mailboxes, func(m string) bool { return strings.EqualFold(m, to.String()) }) {
			return smtp.Errorf(smtp.C550MailboxUnavailable, "5.1.1", "No mailbox %s here", to.Bracketed())
		}
	}
	s.to = append(s.to, to)
	return nil
}

// read takes the whole text, or nothing when r fails.
func (s *memorySession) read(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		s.b.mu.Lock()
		s.b.aborted++
		s.b.mu.Unlock()
		return nil, err
	}
	return data, nil
}

func (s *memorySession) store(to []mail.Path, data []byte) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.messages = append(s.b.messages, MemoryMessage{Helo: s.info.Helo, From: s.from, To: to, Data: data})
}

func (s *memorySession) Data(r io.Reader) error {
	data, err := s.read(r)
	if err != nil {
		return err
	}
	s.store(slices.Clone(s.to), data)
	return nil
}

func (s *memorySession) LMTPData(r io.Reader) []error {
	results := make([]error, len(s.to))
	data, err := s.read(r)
	if err != nil {
		for i := range results {
			results[i] = err
		}
		return results
	}
	var delivered []mail.Path
	for i, to := range s.to {
		if s.b.Deliver != nil {
			results[i] = s.b.Deliver(to)
		}
		if results[i] == nil {
			delivered = append(delivered, to)
		}
	}
	if len(delivered) > 0 {
		s.store(delivered, data)
	}
	return results
}

func (s *memorySession) Reset() { s.from, s.to = mail.Path{}, nil }

func (s *memorySession) Close() error { return nil }
