package imap

import (
	"bufio"
	"reflect"
	"strings"
	"testing"
	"time"
)

// searchArgs lexes a SEARCH argument string as the server would.
func searchArgs(t *testing.T, s string) []Arg {
	t.Helper()
	line := "t SEARCH " + s + "\r\n"
	if s == "" {
		line = "t SEARCH\r\n"
	}
	r := NewReader(bufio.NewReader(strings.NewReader(line)), ReaderOptions{})
	r.Continue = func(*Command, int64) error { return nil }
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatalf("lexing %q: %v", s, err)
	}
	return cmd.Args
}

func TestParseSearchValid(t *testing.T) {
	feb1 := time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC)
	set := func(s string) SeqSet { x, _ := ParseSeqSet(s); return x }
	tests := []struct {
		in      string
		charset string
		want    []SearchKey
	}{
		{"ALL", "", []SearchKey{{Op: SearchAll}}},
		{"ANSWERED DELETED DRAFT FLAGGED SEEN RECENT", "", []SearchKey{
			{Op: SearchFlag, Flag: `\Answered`}, {Op: SearchFlag, Flag: `\Deleted`}, {Op: SearchFlag, Flag: `\Draft`},
			{Op: SearchFlag, Flag: `\Flagged`}, {Op: SearchFlag, Flag: `\Seen`}, {Op: SearchFlag, Flag: `\Recent`}}},
		{"UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN", "", []SearchKey{
			{Op: SearchFlag, Flag: `\Answered`, Not: true}, {Op: SearchFlag, Flag: `\Deleted`, Not: true},
			{Op: SearchFlag, Flag: `\Draft`, Not: true}, {Op: SearchFlag, Flag: `\Flagged`, Not: true}, {Op: SearchFlag, Flag: `\Seen`, Not: true}}},
		{"NEW OLD KEYWORD $Junk UNKEYWORD $NotJunk", "", []SearchKey{{Op: SearchNew}, {Op: SearchOld},
			{Op: SearchFlag, Flag: "$Junk"}, {Op: SearchFlag, Flag: "$NotJunk", Not: true}}},
		{`BCC a CC "b c" FROM {5}` + "\r\nalice" + ` SUBJECT hi TO bob`, "", []SearchKey{
			{Op: SearchHeader, Field: "Bcc", Value: "a"}, {Op: SearchHeader, Field: "Cc", Value: "b c"},
			{Op: SearchHeader, Field: "From", Value: "alice"}, {Op: SearchHeader, Field: "Subject", Value: "hi"},
			{Op: SearchHeader, Field: "To", Value: "bob"}}},
		{`HEADER Message-ID "<x@y>" BODY lunch TEXT "la cena"`, "", []SearchKey{
			{Op: SearchHeader, Field: "Message-ID", Value: "<x@y>"}, {Op: SearchBody, Value: "lunch"}, {Op: SearchText, Value: "la cena"}}},
		{`BEFORE 1-Feb-1994 ON "1-Feb-1994" SINCE 1-FEB-1994 SENTBEFORE 1-Feb-1994 SENTON 1-Feb-1994 SENTSINCE 1-Feb-1994`, "", []SearchKey{
			{Op: SearchBefore, Date: feb1}, {Op: SearchOn, Date: feb1}, {Op: SearchSince, Date: feb1},
			{Op: SearchSentBefore, Date: feb1}, {Op: SearchSentOn, Date: feb1}, {Op: SearchSentSince, Date: feb1}}},
		{"LARGER 100 SMALLER 2000", "", []SearchKey{{Op: SearchLarger, Size: 100}, {Op: SearchSmaller, Size: 2000}}},
		{"UID 1:4,9 2,5:*", "", []SearchKey{{Op: SearchUIDSet, Set: set("1:4,9")}, {Op: SearchSeqSet, Set: set("2,5:*")}}},
		{"NOT SEEN OR FROM a (TO b CC c)", "", []SearchKey{
			{Op: SearchNot, Keys: []SearchKey{{Op: SearchFlag, Flag: `\Seen`}}},
			{Op: SearchOr, Keys: []SearchKey{{Op: SearchHeader, Field: "From", Value: "a"},
				{Op: SearchAnd, Keys: []SearchKey{{Op: SearchHeader, Field: "To", Value: "b"}, {Op: SearchHeader, Field: "Cc", Value: "c"}}}}}}},
		{`CHARSET utf-8 TEXT "ñ"`, "UTF-8", []SearchKey{{Op: SearchText, Value: "ñ"}}},
		{"charset US-ASCII all", "US-ASCII", []SearchKey{{Op: SearchAll}}},
	}
	for _, tt := range tests {
		cs, got, err := ParseSearch(searchArgs(t, tt.in))
		want := SearchKey{Op: SearchAnd, Keys: tt.want}
		if err != nil || cs != tt.charset || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseSearch(%q) = %q %+v, %v;\nwant %q %+v", tt.in, cs, got, err, tt.charset, want)
		}
	}
}

func TestParseSearchInvalid(t *testing.T) {
	tests := map[string]string{
		"":                                  "at least one search key",
		"BOGUS":                             "unknown search key",
		"FROM":                              "wants a string",
		"FROM (a)":                          "wants a string",
		"BEFORE yesterday":                  "d-Mon-yyyy",
		"LARGER big":                        "wants a number",
		"SMALLER -1":                        "wants a number",
		"UID x":                             "sequence set",
		"0":                                 "non-zero",
		"OR SEEN":                           "missing",
		"NOT":                               "missing",
		"()":                                "empty parentheses",
		"KEYWORD \\Seen":                    "keyword",
		`"ALL"`:                             "found the string",
		"CHARSET KOI8-R ALL":                "BADCHARSET",
		strings.Repeat("NOT ", 200) + "ALL": "nested too deep",
	}
	for in, want := range tests {
		_, _, err := ParseSearch(searchArgs(t, in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSearch(%q) error %v, want one containing %q", in, err, want)
		}
	}
	_, _, err := ParseSearch(searchArgs(t, "CHARSET KOI8-R ALL"))
	if e, _ := err.(*Error); e == nil || e.Status != NO {
		t.Errorf("unknown charset gave %v, want a NO (RFC 3501 section 6.4.4)", err)
	}
}
