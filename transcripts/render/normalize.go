package render

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/maillab/maillab/transcripts"
)

// Patterns Normalize replaces, in this order, in the text fields of events
// (Line, Client, Server, Agent, QueueID).
var (
	// Queue ids: every value of Event.QueueID, wherever it appears as a
	// word, becomes <QUEUEID1>, <QUEUEID2>... in order of appearance.

	// Message-IDs: each <...> in a Message-ID, In-Reply-To or References
	// header line becomes <MSGID1>, <MSGID2>...
	msgIDHeader = regexp.MustCompile(`(?i)^((?:Message-ID|In-Reply-To|References|Resent-Message-ID)\s*:)(.*)$`)
	msgID       = regexp.MustCompile(`<[^<>\s]+>`)

	// Maildir file names, "1732600000.M123P45Q6.host,S=123:2,S" (time, then
	// letter-number groups, then host; size and flags optional), become
	// <MAILDIR1>, <MAILDIR2>...
	maildirName = regexp.MustCompile(`\b\d{4,}\.(?:[A-Z]+\d+)+(?:_\d+)?\.[A-Za-z0-9](?:[-A-Za-z0-9.]*[A-Za-z0-9])?(?:,[A-Za-z]=\d+)*(?::2,[A-Za-z]*)?`)

	// RFC 5322 section 3.3 dates, "Tue, 26 Nov 2024 10:00:00 +0000" (day
	// name, seconds, zone and comment optional), become <DATE>.
	rfc5322Date = regexp.MustCompile(`(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s*)?\b\d{1,2}\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+\d{2,4}\s+\d{2}:\d{2}(?::\d{2})?(?:\s+(?:[+-]\d{4}|UT|GMT|[ECMP][SD]T|Z)\b)?(?:\s+\([^()]*\))?`)

	// Socket addresses, "127.0.0.1:40312" or "[::1]:40312", keep their IP and
	// get :PORT1, :PORT2... numbered per distinct address.
	sockAddr = regexp.MustCompile(`(\b\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):(\d{1,5})\b`)

	// DNS message ids, "(id 4711," in the lines of a dns exchange, are
	// random (RFC 5452 section 9.2) and become "(id <DNSID>,".
	dnsID = regexp.MustCompile(`\(id \d{1,5},`)

	// TLS: the size of a record ("TLS record: handshake, 512 bytes") becomes
	// <N> (certificates, signatures and session tickets vary in size); the
	// cipher suite of a handshake line becomes <CIPHER> (Go prefers AES-GCM
	// or ChaCha20 depending on the CPU); the random id of the lab CA,
	// "maillab lab CA 5f3a9c01", becomes <CAID>.
	wireSize   = regexp.MustCompile(`^(TLS record: [a-z ]+), \d+ bytes$`)
	cipherName = regexp.MustCompile(`\bcipher TLS_[A-Z0-9_]+`)
	labCAID    = regexp.MustCompile(`\b(maillab lab CA) [0-9a-f]{4,}\b`)
)

// Normalize returns a copy of events that renders the same on every run, for
// golden tests: Seq renumbered from 1, Time zeroed, and the values that vary
// between runs (queue ids, Message-IDs, Maildir file names, dates, ports)
// replaced by numbered placeholders as documented on the patterns above.
// The same value gets the same placeholder everywhere in events.
//
// A TLS handshake event is recorded by one side as its handshake ends,
// while the other side records the last records: where it lands among
// them varies from run to run. Normalize moves it to just before the first
// event of its connection recorded inside TLS (Event.TLS), or, when there
// is none, to the end of the run of wire events around it.
func Normalize(events []transcripts.Event) []transcripts.Event {
	events = placeHandshakes(events)
	n := normalizer{seen: make(map[string]string), count: make(map[string]int)}
	var ids []string
	for _, e := range events {
		if e.QueueID != "" {
			if _, ok := n.seen["q:"+e.QueueID]; !ok {
				n.placeholder("q:"+e.QueueID, "<QUEUEID%d>")
				ids = append(ids, e.QueueID)
			}
		}
	}
	// Longest first, so an id that contains another is replaced whole.
	sort.SliceStable(ids, func(i, j int) bool { return len(ids[i]) > len(ids[j]) })
	for _, id := range ids {
		n.queueIDs = append(n.queueIDs, regexp.MustCompile(`\b`+regexp.QuoteMeta(id)+`\b`))
		n.queueNames = append(n.queueNames, n.seen["q:"+id])
	}
	out := make([]transcripts.Event, len(events))
	for i, e := range events {
		e.Seq = int64(i + 1)
		e.Time = time.Time{}
		if e.QueueID != "" {
			e.QueueID = n.seen["q:"+e.QueueID]
		}
		e.Line = n.text(e.Line)
		switch e.Kind {
		case transcripts.KindWire:
			e.Line = wireSize.ReplaceAllString(e.Line, "$1, <N> bytes")
		case transcripts.KindTLS:
			e.Line = cipherName.ReplaceAllLiteralString(e.Line, "cipher <CIPHER>")
		}
		e.Line = labCAID.ReplaceAllString(e.Line, "$1 <CAID>")
		if e.Proto == "dns" {
			e.Line = dnsID.ReplaceAllLiteralString(e.Line, "(id <DNSID>,")
		}
		e.Client = n.text(e.Client)
		e.Server = n.text(e.Server)
		e.Agent = n.text(e.Agent)
		out[i] = e
	}
	return out
}

type normalizer struct {
	seen       map[string]string // value (with a kind prefix) -> placeholder
	count      map[string]int    // placeholder format -> how many so far
	queueIDs   []*regexp.Regexp
	queueNames []string
}

// placeholder returns the placeholder of key, numbering a new one with
// format (one %d).
func (n *normalizer) placeholder(key, format string) string {
	if p, ok := n.seen[key]; ok {
		return p
	}
	n.count[format]++
	p := strings.Replace(format, "%d", strconv.Itoa(n.count[format]), 1)
	n.seen[key] = p
	return p
}

func (n *normalizer) text(s string) string {
	if s == "" {
		return s
	}
	for i, re := range n.queueIDs {
		s = re.ReplaceAllLiteralString(s, n.queueNames[i])
	}
	if m := msgIDHeader.FindStringSubmatch(s); m != nil {
		s = m[1] + msgID.ReplaceAllStringFunc(m[2], func(id string) string {
			return n.placeholder("m:"+id, "<MSGID%d>")
		})
	}
	s = maildirName.ReplaceAllStringFunc(s, func(name string) string {
		return n.placeholder("d:"+name, "<MAILDIR%d>")
	})
	s = rfc5322Date.ReplaceAllLiteralString(s, "<DATE>")
	return sockAddr.ReplaceAllStringFunc(s, func(addr string) string {
		m := sockAddr.FindStringSubmatch(addr)
		// "[127.0.0.1]:40312" in a Received field is the same socket.
		key := "a:" + strings.Trim(m[1], "[]") + ":" + m[2]
		return m[1] + ":" + n.placeholder(key, "PORT%d")
	})
}

// placeHandshakes returns a copy of events with each TLS handshake event
// moved as Normalize documents.
func placeHandshakes(events []transcripts.Event) []transcripts.Event {
	out := append([]transcripts.Event(nil), events...)
	for i := 0; i < len(out); i++ {
		e := out[i]
		if e.Kind != transcripts.KindTLS || e.Conn == 0 {
			continue
		}
		rest := append(out[:i:i], out[i+1:]...)
		at := -1
		for j, f := range rest {
			if f.Conn == e.Conn && f.TLS {
				at = j
				break
			}
		}
		if at < 0 {
			at = i
			for at < len(rest) && rest[at].Conn == e.Conn && rest[at].Kind == transcripts.KindWire {
				at++
			}
		}
		moved := make([]transcripts.Event, 0, len(out))
		moved = append(moved, rest[:at]...)
		moved = append(moved, e)
		moved = append(moved, rest[at:]...)
		out = moved
		if at > i {
			i-- // the event now at i has not been looked at
		}
	}
	return out
}
