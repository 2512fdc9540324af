package imapmsg

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/maillab/maillab/protocols/imap"
	"github.com/maillab/maillab/protocols/mail"
)

// msgSearch: a QP UTF-8 text part, a base64 ISO-8859-1 text part ("Añejo")
// and a base64 attachment ("secret").
var msgSearch = crlf(`Date: Wed, 14 Jan 2026 23:59:00 -0800
From: =?UTF-8?q?Jos=C3=A9?= <jose@a.test>
To: bob@b.test
Cc: carol@c.test
Bcc: dave@d.test
Subject: =?UTF-8?q?Reuni=C3=B3n?= del lunes
X-Priority: 1
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Nos vemos en la cafeter=C3=ADa.
--b
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: base64

QfFlam8=
--b
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

c2VjcmV0
--b--
`)

func day(d int) time.Time { return time.Date(2026, time.January, d, 0, 0, 0, 0, time.UTC) }

func newCandidate() *Candidate {
	return &Candidate{
		SeqNum: 5, UID: 105,
		Flags: []string{`\Seen`, `\Flagged`, "$Work"},
		// 00:30 on the 15th at +0100, still the 14th in UTC: the day is
		// taken where the date was recorded.
		InternalDate: time.Date(2026, time.January, 15, 0, 30, 0, 0, time.FixedZone("", 3600)),
		Raw:          []byte(msgSearch),
	}
}

func TestMatch(t *testing.T) {
	n := int64(len(msgSearch))
	k := func(op imap.SearchOp) imap.SearchKey { return imap.SearchKey{Op: op} }
	flag := func(f string, not bool) imap.SearchKey { return imap.SearchKey{Op: imap.SearchFlag, Flag: f, Not: not} }
	hdr := func(field, v string) imap.SearchKey {
		return imap.SearchKey{Op: imap.SearchHeader, Field: field, Value: v}
	}
	str := func(op imap.SearchOp, v string) imap.SearchKey { return imap.SearchKey{Op: op, Value: v} }
	date := func(op imap.SearchOp, d int) imap.SearchKey { return imap.SearchKey{Op: op, Date: day(d)} }
	size := func(op imap.SearchOp, s int64) imap.SearchKey { return imap.SearchKey{Op: op, Size: s} }
	set := func(op imap.SearchOp, rs ...imap.SeqRange) imap.SearchKey { return imap.SearchKey{Op: op, Set: rs} }
	not := func(key imap.SearchKey) imap.SearchKey {
		return imap.SearchKey{Op: imap.SearchNot, Keys: []imap.SearchKey{key}}
	}
	or := func(a, b imap.SearchKey) imap.SearchKey {
		return imap.SearchKey{Op: imap.SearchOr, Keys: []imap.SearchKey{a, b}}
	}
	and := func(keys ...imap.SearchKey) imap.SearchKey { return imap.SearchKey{Op: imap.SearchAnd, Keys: keys} }
	rng := func(a, b uint32) imap.SeqRange { return imap.SeqRange{Start: a, Stop: b} }
	recentUnseen := func(c *Candidate) { c.Recent, c.Flags = true, nil }

	tests := []struct {
		name   string
		key    imap.SearchKey
		mod    func(*Candidate)
		maxSeq uint32 // 0: 9
		maxUID uint32 // 0: 200
		want   bool
	}{
		{name: "ALL", key: k(imap.SearchAll), want: true},
		{name: "seq 5", key: set(imap.SearchSeqSet, rng(5, 5)), want: true},
		{name: "seq 1:4", key: set(imap.SearchSeqSet, rng(1, 4)), want: false},
		{name: "seq 4:2,5", key: set(imap.SearchSeqSet, rng(4, 2), rng(5, 5)), want: true},
		{name: "seq * is the last", key: set(imap.SearchSeqSet, rng(0, 0)), maxSeq: 5, want: true},
		{name: "seq * is not 5 of 9", key: set(imap.SearchSeqSet, rng(0, 0)), want: false},
		{name: "seq 7:* of 9", key: set(imap.SearchSeqSet, rng(7, 0)), want: false},
		{name: "UID 100:110", key: set(imap.SearchUIDSet, rng(100, 110)), want: true},
		{name: "UID 1:104", key: set(imap.SearchUIDSet, rng(1, 104)), want: false},
		{name: "UID 559:* holds the largest UID", key: set(imap.SearchUIDSet, rng(559, 0)), maxUID: 105, want: true},
		{name: "SEEN", key: flag(`\Seen`, false), want: true},
		{name: "seen in any case", key: flag(`\SEEN`, false), want: true},
		{name: "UNSEEN", key: flag(`\Seen`, true), want: false},
		{name: "ANSWERED", key: flag(`\Answered`, false), want: false},
		{name: "UNANSWERED", key: flag(`\Answered`, true), want: true},
		{name: "DELETED", key: flag(`\Deleted`, false), want: false},
		{name: "DRAFT", key: flag(`\Draft`, false), want: false},
		{name: "FLAGGED", key: flag(`\Flagged`, false), want: true},
		{name: "UNFLAGGED", key: flag(`\Flagged`, true), want: false},
		{name: "KEYWORD", key: flag("$work", false), want: true},
		{name: "UNKEYWORD", key: flag("$Other", true), want: true},
		{name: "RECENT", key: flag(`\Recent`, false), want: false},
		{name: "RECENT on a recent message", key: flag(`\Recent`, false), mod: recentUnseen, want: true},
		{name: "NEW", key: k(imap.SearchNew), want: false},
		{name: "NEW on a recent unseen message", key: k(imap.SearchNew), mod: recentUnseen, want: true},
		{name: "OLD", key: k(imap.SearchOld), want: true},
		{name: "OLD on a recent message", key: k(imap.SearchOld), mod: recentUnseen, want: false},
		{name: "SUBJECT decoded", key: hdr("Subject", "reunión"), want: true},
		{name: "SUBJECT plain part, any case", key: hdr("Subject", "LUNES"), want: true},
		{name: "SUBJECT absent word", key: hdr("Subject", "martes"), want: false},
		{name: "FROM decoded name", key: hdr("From", "JOSÉ"), want: true},
		{name: "FROM address", key: hdr("From", "jose@a.test"), want: true},
		{name: "TO", key: hdr("To", "bob"), want: true},
		{name: "CC", key: hdr("Cc", "carol"), want: true},
		{name: "BCC", key: hdr("Bcc", "dave"), want: true},
		{name: "TO is not CC", key: hdr("To", "carol"), want: false},
		{name: "HEADER with empty string: field present", key: hdr("x-priority", ""), want: true},
		{name: "HEADER with empty string: field absent", key: hdr("X-Missing", ""), want: false},
		{name: "BODY in quoted-printable UTF-8", key: str(imap.SearchBody, "CAFETERÍA"), want: true},
		{name: "BODY in base64 ISO-8859-1", key: str(imap.SearchBody, "añejo"), want: true},
		{name: "BODY does not look into attachments", key: str(imap.SearchBody, "secret"), want: false},
		{name: "BODY does not look at the header", key: str(imap.SearchBody, "X-Priority"), want: false},
		{name: "TEXT finds the header", key: str(imap.SearchText, "x-priority: 1"), want: true},
		{name: "TEXT finds decoded header words", key: str(imap.SearchText, "Reunión"), want: true},
		{name: "TEXT finds the body", key: str(imap.SearchText, "vemos"), want: true},
		{name: "TEXT misses", key: str(imap.SearchText, "nowhere"), want: false},
		{name: "BEFORE 16", key: date(imap.SearchBefore, 16), want: true},
		{name: "BEFORE 15", key: date(imap.SearchBefore, 15), want: false},
		{name: "ON 15 (internal date's own zone)", key: date(imap.SearchOn, 15), want: true},
		{name: "ON 14", key: date(imap.SearchOn, 14), want: false},
		{name: "SINCE 15", key: date(imap.SearchSince, 15), want: true},
		{name: "SINCE 16", key: date(imap.SearchSince, 16), want: false},
		{name: "SENTON 14 (as written, zone ignored)", key: date(imap.SearchSentOn, 14), want: true},
		{name: "SENTON 15", key: date(imap.SearchSentOn, 15), want: false},
		{name: "SENTBEFORE 15", key: date(imap.SearchSentBefore, 15), want: true},
		{name: "SENTBEFORE 14", key: date(imap.SearchSentBefore, 14), want: false},
		{name: "SENTSINCE 14", key: date(imap.SearchSentSince, 14), want: true},
		{name: "SENTSINCE 15", key: date(imap.SearchSentSince, 15), want: false},
		{name: "SENTSINCE without Date:", key: date(imap.SearchSentSince, 1), mod: func(c *Candidate) { c.Raw = []byte("Subject: x\r\n\r\n") }, want: false},
		{name: "LARGER n-1", key: size(imap.SearchLarger, n-1), want: true},
		{name: "LARGER n", key: size(imap.SearchLarger, n), want: false},
		{name: "SMALLER n+1", key: size(imap.SearchSmaller, n+1), want: true},
		{name: "SMALLER n", key: size(imap.SearchSmaller, n), want: false},
		{name: "Size beats len(Raw)", key: size(imap.SearchLarger, 1000), mod: func(c *Candidate) { c.Size = 5000 }, want: true},
		{name: "NOT ALL", key: not(k(imap.SearchAll)), want: false},
		{name: "NOT ANSWERED", key: not(flag(`\Answered`, false)), want: true},
		{name: "OR ANSWERED FLAGGED", key: or(flag(`\Answered`, false), flag(`\Flagged`, false)), want: true},
		{name: "OR ANSWERED DRAFT", key: or(flag(`\Answered`, false), flag(`\Draft`, false)), want: false},
		{name: "(SEEN FLAGGED)", key: and(flag(`\Seen`, false), flag(`\Flagged`, false)), want: true},
		{name: "(SEEN ANSWERED)", key: and(flag(`\Seen`, false), flag(`\Answered`, false)), want: false},
		{name: "empty AND", key: and(), want: true},
		{name: "unknown op", key: imap.SearchKey{Op: 999}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCandidate()
			if tt.mod != nil {
				tt.mod(c)
			}
			maxSeq, maxUID := tt.maxSeq, tt.maxUID
			if maxSeq == 0 {
				maxSeq = 9
			}
			if maxUID == 0 {
				maxUID = 200
			}
			if got := Match(c, tt.key, maxSeq, maxUID); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
			// The same answer with a tree parsed beforehand.
			c2 := newCandidate()
			if tt.mod != nil {
				tt.mod(c2)
			}
			c2.Part = parse(t, string(c2.Raw))
			if got := Match(c2, tt.key, maxSeq, maxUID); got != tt.want {
				t.Errorf("Match with Part = %v, want %v", got, tt.want)
			}
			// And with only the fields SearchNeeds names, when that is
			// enough.
			c3 := newCandidate()
			if tt.mod != nil {
				tt.mod(c3)
			}
			if !headerOnly(c3, tt.key) {
				return
			}
			if got := Match(c3, tt.key, maxSeq, maxUID); got != tt.want {
				t.Errorf("Match with the fields %v only = %v, want %v", SearchNeeds(tt.key).Fields, got, tt.want)
			}
		})
	}
}

// headerOnly turns c into what a server that read only the header gives
// Match: no Raw, the Size set, the fields SearchNeeds names. It reports
// false, leaving c alone, when key needs the body.
func headerOnly(c *Candidate, key imap.SearchKey) bool {
	needs := SearchNeeds(key)
	if needs.Body {
		return false
	}
	if c.Size == 0 {
		c.Size = int64(len(c.Raw))
	}
	header, _ := SplitHeader(c.Raw)
	c.Raw = nil
	if len(needs.Fields) > 0 {
		c.SetHeader(mail.ParseHeaderFields(header, needs.Fields...), nil)
	}
	return true
}

func TestSearchNeeds(t *testing.T) {
	hdr := func(field string) imap.SearchKey { return imap.SearchKey{Op: imap.SearchHeader, Field: field} }
	tests := []struct {
		key  imap.SearchKey
		want Needs
	}{
		{imap.SearchKey{Op: imap.SearchAll}, Needs{}},
		{imap.SearchKey{Op: imap.SearchFlag, Flag: `\Seen`}, Needs{}},
		{hdr("From"), Needs{Fields: []string{"From"}}},
		{imap.SearchKey{Op: imap.SearchOr, Keys: []imap.SearchKey{hdr("From"), {Op: imap.SearchNot, Keys: []imap.SearchKey{hdr("FROM")}}, {Op: imap.SearchSentOn}}},
			Needs{Fields: []string{"From", "Date"}}},
		{imap.SearchKey{Op: imap.SearchAnd, Keys: []imap.SearchKey{hdr("To"), {Op: imap.SearchBody}}}, Needs{Body: true, Fields: []string{"To"}}},
		{imap.SearchKey{Op: imap.SearchText}, Needs{Body: true}},
	}
	for _, tt := range tests {
		if got := SearchNeeds(tt.key); got.Body != tt.want.Body || !slices.Equal(got.Fields, tt.want.Fields) {
			t.Errorf("SearchNeeds(%+v) = %+v, want %+v", tt.key, got, tt.want)
		}
	}
}

func TestMatchKeepsParsedTree(t *testing.T) {
	c := newCandidate()
	Match(c, imap.SearchKey{Op: imap.SearchHeader, Field: "Subject", Value: "x"}, 9, 200)
	if c.Part != nil {
		t.Errorf("a header key parsed the whole MIME tree")
	}
	Match(c, imap.SearchKey{Op: imap.SearchBody, Value: "x"}, 9, 200)
	if c.Part == nil {
		t.Errorf("Part not kept after a BODY key")
	}
}

func TestMatchDeepKeyTree(t *testing.T) {
	key := imap.SearchKey{Op: imap.SearchAll}
	for range 5000 {
		key = imap.SearchKey{Op: imap.SearchNot, Keys: []imap.SearchKey{key}}
	}
	if Match(newCandidate(), key, 9, 200) {
		t.Errorf("a key tree deeper than the limit matched")
	}
}

func TestParseDateDay(t *testing.T) {
	valid := []struct {
		in   string
		want int
	}{
		{"Thu, 15 Jan 2026 10:30:00 +0100", 20260115},
		{"15 Jan 2026 10:30 +0100", 20260115},
		{"Thu,15 jan 2026", 20260115},
		{"Thu (day) 5 FEB 26 10:30 GMT", 20260205},
		{"1 Mar 99 00:00 EST", 19990301},
		{"1 Apr 105", 20050401},
		{"2026-01-15 10:00", 20260115},
		{"Sun, 1 December 2024", 20241201},
	}
	for _, tt := range valid {
		got, ok := parseDateDay(tt.in)
		if !ok || got != tt.want {
			t.Errorf("parseDateDay(%q) = %d, %v; want %d", tt.in, got, ok, tt.want)
		}
	}
	for _, in := range []string{"", "garbage", "32 Jan 2026", "15 Foo 2026", "Thu,", "15 Jan", "0 Jan 2026", "15 Jan 20261", "2026-13-01"} {
		if got, ok := parseDateDay(in); ok {
			t.Errorf("parseDateDay(%q) = %d, want failure", in, got)
		}
	}
}

func FuzzMatchAndStructure(f *testing.F) {
	for _, m := range []string{msgPlain, msgAlternative, msgMixed, msgNested, msgRFC822, msgGroups, msgSearch} {
		f.Add([]byte(m), "1.HEADER.FIELDS (From)", "reunión")
	}
	f.Add([]byte("To: a:b:c;;,<@x:y@z>,\"q\\\" (c(d)\r\n\r\n"), "2.1.MIME", "")
	f.Add([]byte("Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\n"), "1.1.TEXT", "a")
	f.Fuzz(func(t *testing.T, raw []byte, section, needle string) {
		p, _ := mailParse(raw)
		for _, ext := range []bool{false, true} {
			bs := BodyStructure(p, ext)
			if err := checkSyntax(bs); err != nil {
				t.Fatalf("BODYSTRUCTURE %q: %v", bs, err)
			}
		}
		if env := Envelope(p); checkSyntax(env) != nil {
			t.Fatalf("ENVELOPE %q: %v", env, checkSyntax(env))
		}
		if s, err := ParseSection(section); err == nil {
			if _, err := Fetch(raw, p, s); err != nil {
				t.Fatalf("Fetch: %v", err)
			}
		}
		c := &Candidate{SeqNum: 1, UID: 1, Raw: raw}
		for _, op := range []imap.SearchOp{imap.SearchText, imap.SearchBody, imap.SearchSentOn} {
			Match(c, imap.SearchKey{Op: op, Value: needle, Field: "Subject"}, 1, 1)
		}
		Match(c, imap.SearchKey{Op: imap.SearchHeader, Value: needle, Field: "Subject"}, 1, 1)
		// Reading the fields a key needs gives the answer reading the
		// message gives.
		for _, key := range []imap.SearchKey{
			{Op: imap.SearchHeader, Value: needle, Field: "Subject"},
			{Op: imap.SearchHeader, Value: needle, Field: needle},
			{Op: imap.SearchSentOn, Date: time.Date(2026, time.January, 15, 0, 0, 0, 0, time.UTC)},
		} {
			full := &Candidate{SeqNum: 1, UID: 1, Raw: raw}
			part := &Candidate{SeqNum: 1, UID: 1, Raw: raw}
			headerOnly(part, key)
			if a, b := Match(full, key, 1, 1), Match(part, key, 1, 1); a != b {
				t.Fatalf("%+v: %v reading the message, %v reading the fields %v", key, a, b, SearchNeeds(key).Fields)
			}
		}
	})
}

// BenchmarkMatchSubject searches SUBJECT over 10,000 messages, as a
// "SEARCH SUBJECT" on a large mailbox, parsing each header from Raw.
func BenchmarkMatchSubject(b *testing.B) {
	cands := make([]*Candidate, 10000)
	for i := range cands {
		raw := fmt.Sprintf("From: a%d@a.test\r\nTo: b@b.test\r\nSubject: Weekly report %d\r\nDate: Thu, 15 Jan 2026 10:30:00 +0100\r\nMessage-ID: <%d@a.test>\r\n\r\n%s", i, i, i, msgPlain)
		cands[i] = &Candidate{SeqNum: uint32(i + 1), UID: uint32(i + 1), Raw: []byte(raw)}
	}
	key := imap.SearchKey{Op: imap.SearchHeader, Field: "Subject", Value: "REPORT 9999"}
	b.ResetTimer()
	for b.Loop() {
		hits := 0
		for _, c := range cands {
			// Fresh candidates each round would measure allocation;
			// the parsed header is reused, as a server's cache would.
			if Match(c, key, 10000, 10000) {
				hits++
			}
		}
		if hits != 1 {
			b.Fatalf("%d hits", hits)
		}
	}
}

// BenchmarkMatchSubjectCold is BenchmarkMatchSubject with nothing cached:
// each message's header is split and parsed from Raw.
func BenchmarkMatchSubjectCold(b *testing.B) {
	raws := make([][]byte, 10000)
	for i := range raws {
		raws[i] = fmt.Appendf(nil, "From: a%d@a.test\r\nTo: b@b.test\r\nSubject: Weekly report %d\r\nDate: Thu, 15 Jan 2026 10:30:00 +0100\r\nMessage-ID: <%d@a.test>\r\n\r\n%s", i, i, i, msgPlain)
	}
	key := imap.SearchKey{Op: imap.SearchHeader, Field: "Subject", Value: "REPORT 9999"}
	for b.Loop() {
		hits := 0
		for i, raw := range raws {
			if Match(&Candidate{SeqNum: uint32(i + 1), UID: uint32(i + 1), Raw: raw}, key, 10000, 10000) {
				hits++
			}
		}
		if hits != 1 {
			b.Fatalf("%d hits", hits)
		}
	}
}
