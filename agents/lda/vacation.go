package lda

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/maillab/maillab/agents/lda/sieve"
	"github.com/maillab/maillab/protocols/mail"
)

// vacations remembers when a vacation reply went to a sender: one record
// per (user, handle, sender) (RFC 5230 section 4.2), in memory and, with
// a StateDir, in one small file each, written durably before it counts.
type vacations struct {
	dir  string // "" for memory only
	mu   sync.Mutex
	sent map[string]time.Time
}

func newVacations(stateDir string) (*vacations, error) {
	v := &vacations{sent: map[string]time.Time{}}
	if stateDir != "" {
		v.dir = filepath.Join(stateDir, "vacation")
		if err := os.MkdirAll(v.dir, 0o700); err != nil {
			return nil, fmt.Errorf("lda: state directory: %w", err)
		}
	}
	return v, nil
}

// key names a record; its file name is its SHA-256, so that no address or
// handle can make a path.
func vacationKey(user, handle, sender string) string {
	return strings.ToLower(user) + "\x00" + handle + "\x00" + strings.ToLower(sender)
}

func (v *vacations) file(key string) string {
	h := sha256.Sum256([]byte(key))
	return filepath.Join(v.dir, hex.EncodeToString(h[:16]))
}

// last returns when a reply for key was last sent, if ever.
func (v *vacations) last(key string) (time.Time, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if t, ok := v.sent[key]; ok {
		return t, true
	}
	if v.dir == "" {
		return time.Time{}, false
	}
	b, err := os.ReadFile(v.file(key))
	if err != nil {
		return time.Time{}, false
	}
	// The file: the key's three parts, one a line, then the Unix time.
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 4 || strings.Join(lines[:3], "\x00") != key {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(lines[3], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	t := time.Unix(sec, 0)
	v.sent[key] = t
	return t, true
}

// record remembers that a reply for key went at t: written to a
// temporary file, synced, renamed into place, and the directory synced.
func (v *vacations) record(key string, t time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.sent[key] = t
	if v.dir == "" {
		return nil
	}
	body := strings.ReplaceAll(key, "\x00", "\n") + "\n" + strconv.FormatInt(t.Unix(), 10) + "\n"
	f, err := os.CreateTemp(v.dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.WriteString(body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), v.file(key))
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	d, err := os.Open(v.dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// vacation carries out a vacation action: no reply when RFC 5230 or RFC
// 3834 says none is due, or when one went to the sender under the same
// handle within :days; else a reply from the null sender.
func (j *job) vacation(owner, given string, u *User, a sieve.Action, prefix string) {
	v := a.Vacation
	why := fmt.Sprintf("line %d: vacation", a.Line)
	addrs := append([]string{owner}, u.Addresses...)
	addrs = append(addrs, v.Addresses...)
	env := sieve.Envelope{From: j.d.From.String(), To: given}
	ok, reason := sieve.ShouldAutoReply(sieve.HeaderMessage(j.hdr, int64(len(j.d.Msg))), env, addrs)
	switch {
	case !ok && reason == v.NoReply:
		return // the script's trace said so already
	case !ok:
		j.note("%s%s → no reply: %s", prefix, why, reason)
		return
	case v.NoReply != "":
		// The user's Addresses name the user where :addresses did not.
		j.note("%s%s → a reply is due after all: %s (User.Addresses)", prefix, why, reason)
	}
	sender := j.d.From.String()
	key := vacationKey(owner, v.Handle, sender)
	now := j.l.cfg.Now()
	period := time.Duration(v.Days) * 24 * time.Hour
	if t, ok := j.l.vac.last(key); ok && now.Sub(t) < period {
		// RFC 5230 section 4.2: one reply per sender per :days.
		j.note("%s%s → no reply: one went to <%s> on %s, within :days %d (RFC 5230 section 4.2)",
			prefix, why, sender, t.UTC().Format(mail.DateLayout), v.Days)
		return
	}
	reply := j.vacationReply(owner, v, a.Reason, now)
	// RFC 5230 section 5.1 and RFC 3834 section 3.3: the reply goes from
	// the null reverse-path <>, so that nothing ever answers it.
	if err := j.submit("", []string{sender}, reply); err != nil {
		j.note("%s%s → the reply to <%s> could not be sent: %v", prefix, why, sender, err)
		return
	}
	if err := j.l.vac.record(key, now); err != nil {
		j.note("%s%s → reply sent, but its record could not be written: %v", prefix, why, err)
	}
	j.note("%s%s → reply sent to <%s> from <> with Auto-Submitted: auto-replied (RFC 3834); the next one to <%s> not before %d days",
		prefix, why, sender, sender, v.Days)
}

// vacationReply builds the reply (RFC 5230 section 5, RFC 3834 section 3).
func (j *job) vacationReply(owner string, v *sieve.Vacation, reason string, now time.Time) []byte {
	from := v.From
	if from == "" {
		from = owner
	}
	origID := strings.TrimSpace(j.hdr.Get("Message-ID"))
	sum := sha256.Sum256([]byte(owner + "\x00" + v.To + "\x00" + origID + "\x00" + now.UTC().Format(time.RFC3339Nano)))
	var b strings.Builder
	field := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	field("From", from)
	field("To", v.To)
	field("Subject", mail.EncodeWord(v.Subject))
	field("Date", now.Format(mail.DateLayout))
	field("Message-ID", "<vacation."+hex.EncodeToString(sum[:8])+"@"+j.l.cfg.Hostname+">")
	if origID != "" {
		// RFC 5230 section 5 and RFC 3834 section 3.1: thread the reply.
		field("In-Reply-To", origID)
		refs := strings.TrimSpace(j.hdr.Get("References"))
		if refs == "" {
			refs = strings.TrimSpace(j.hdr.Get("In-Reply-To"))
		}
		if refs != "" {
			refs += " "
		}
		field("References", refs+origID)
	}
	// RFC 3834 section 5 (and RFC 5230 section 5): marks the reply, so
	// that other responders do not answer it.
	field("Auto-Submitted", "auto-replied (vacation)")
	field("MIME-Version", "1.0")
	field("Content-Type", "text/plain; charset=utf-8")
	body := strings.ReplaceAll(strings.ReplaceAll(reason, "\r\n", "\n"), "\n", "\r\n")
	if isASCII(body) {
		field("Content-Transfer-Encoding", "7bit")
	} else {
		field("Content-Transfer-Encoding", "8bit")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	if !strings.HasSuffix(body, "\r\n") {
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
