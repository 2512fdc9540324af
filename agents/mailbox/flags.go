package mailbox

import (
	"strings"
)

// Flags is a set of the Maildir flags, stored in a message's file name
// after ":2," as letters in ASCII order (Maildir specification, "Info
// semantics"). The IMAP system flags they stand for (RFC 3501 section
// 2.3.2) are in the comments; \Recent is not a file flag (see
// MessageInfo.Recent).
type Flags uint8

const (
	FlagDraft    Flags = 1 << iota // D: \Draft
	FlagFlagged                    // F: \Flagged
	FlagPassed                     // P: passed (resent, forwarded, bounced); no IMAP system flag ($Forwarded is the usual keyword)
	FlagAnswered                   // R: replied, \Answered
	FlagSeen                       // S: \Seen
	FlagDeleted                    // T: trashed, \Deleted

	// AllFlags is every flag the store keeps.
	AllFlags = FlagDraft | FlagFlagged | FlagPassed | FlagAnswered | FlagSeen | FlagDeleted
)

// flagLetters is in ASCII order, the order the specification asks for.
var flagLetters = [...]byte{'D', 'F', 'P', 'R', 'S', 'T'}

// String returns the letters of the info part: "FRS".
func (f Flags) String() string {
	var b [len(flagLetters)]byte
	n := 0
	for i, c := range flagLetters {
		if f&(1<<i) != 0 {
			b[n] = c
			n++
		}
	}
	return string(b[:n])
}

// FlagOp says how SetFlags combines the given flags with a message's.
type FlagOp int

const (
	ReplaceFlags FlagOp = iota // the message gets exactly these flags (IMAP STORE FLAGS)
	AddFlags                   // these flags are added (STORE +FLAGS)
	RemoveFlags                // these flags are removed (STORE -FLAGS)
)

// apply returns old changed by op.
func (op FlagOp) apply(old, f Flags) Flags {
	switch op {
	case AddFlags:
		return old | f
	case RemoveFlags:
		return old &^ f
	default:
		return f & AllFlags
	}
}

// splitName splits a Maildir file name into its key (the unique part,
// which never changes) and its info: "1.M2P3.h,S=4:2,S" → "1.M2P3.h,S=4",
// flags S. Letters of a ":2," info that the store does not know (Dovecot's
// keyword letters a–z, for instance) are returned in extra and kept when
// flags change. An info of another version (":1,...") is dropped from the
// key but not interpreted.
func splitName(name string) (key string, flags Flags, extra string) {
	i := strings.IndexByte(name, ':')
	if i < 0 {
		return name, 0, ""
	}
	key, info := name[:i], name[i+1:]
	if !strings.HasPrefix(info, "2,") {
		return key, 0, ""
	}
	var ex []byte
	for j := 2; j < len(info); j++ {
		c := info[j]
		if k := strings.IndexByte(string(flagLetters[:]), c); k >= 0 {
			flags |= 1 << k
		} else if c > 0x20 && c < 0x7f && c != '/' && strings.IndexByte(string(ex), c) < 0 {
			ex = append(ex, c)
		}
	}
	return key, flags, string(ex)
}

// curName is the file name in cur/ of a message with these flags:
// key ":2," and the letters in ASCII order, those the store knows and the
// extra ones merged.
func curName(key string, f Flags, extra string) string {
	letters := f.String()
	if extra != "" {
		b := []byte(letters + extra)
		// Insertion sort: at most a few dozen letters.
		for i := 1; i < len(b); i++ {
			for j := i; j > 0 && b[j] < b[j-1]; j-- {
				b[j], b[j-1] = b[j-1], b[j]
			}
		}
		letters = string(b)
	}
	return key + ":2," + letters
}
