package imap

import (
	"fmt"
	"strconv"
	"strings"
)

// FetchItem is one FETCH data item (RFC 3501 section 6.4.5).
type FetchItem struct {
	// Name is the upper-cased attribute: "FLAGS", "INTERNALDATE",
	// "RFC822.SIZE", "ENVELOPE", "BODY", "BODYSTRUCTURE", "UID", "RFC822",
	// "RFC822.HEADER", "RFC822.TEXT", or "BODY[]" for BODY[section] and
	// BODY.PEEK[section].
	Name string
	// Section is the text between the brackets of BODY[...], upper-cased
	// outside quoted strings: "", "HEADER", "1.2.MIME",
	// "HEADER.FIELDS (FROM TO)".
	Section string
	// Peek: BODY.PEEK, which does not set \Seen.
	Peek bool
	// Partial: <origin.count> was given (Origin, Count).
	Partial       bool
	Origin, Count uint32
}

// ResponseName is how the item is named in the FETCH response (RFC 3501
// section 7.4.2): BODY.PEEK[...] is answered as BODY[...], and a partial
// fetch names only its origin, "BODY[]<0>".
func (f FetchItem) ResponseName() string {
	if f.Name != "BODY[]" {
		return f.Name
	}
	s := "BODY[" + f.Section + "]"
	if f.Partial {
		s += "<" + strconv.FormatUint(uint64(f.Origin), 10) + ">"
	}
	return s
}

// String renders the item as a client would send it.
func (f FetchItem) String() string {
	if f.Name != "BODY[]" {
		return f.Name
	}
	s := "BODY"
	if f.Peek {
		s += ".PEEK"
	}
	s += "[" + f.Section + "]"
	if f.Partial {
		s += fmt.Sprintf("<%d.%d>", f.Origin, f.Count)
	}
	return s
}

// SetsSeen reports whether fetching the item sets \Seen in a read-write
// mailbox (RFC 3501 section 6.4.5: BODY[...], RFC822 and RFC822.TEXT do;
// BODY.PEEK and RFC822.HEADER do not).
func (f FetchItem) SetsSeen() bool {
	return (f.Name == "BODY[]" && !f.Peek) || f.Name == "RFC822" || f.Name == "RFC822.TEXT"
}

// fetchMacros expand as RFC 3501 section 6.4.5 says.
var fetchMacros = map[string][]string{
	"ALL":  {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"},
	"FAST": {"FLAGS", "INTERNALDATE", "RFC822.SIZE"},
	"FULL": {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"},
}

var fetchNames = map[string]bool{
	"FLAGS": true, "INTERNALDATE": true, "RFC822.SIZE": true, "ENVELOPE": true,
	"BODY": true, "BODYSTRUCTURE": true, "UID": true, "RFC822": true,
	"RFC822.HEADER": true, "RFC822.TEXT": true,
}

// ParseFetch parses the attribute argument of FETCH: a macro (ALL, FAST,
// FULL), one item, or a parenthesised list of items (RFC 3501 section
// 6.4.5). Macros are only allowed alone.
func ParseFetch(a Arg) ([]FetchItem, error) {
	if a.Kind == ArgAtom {
		if m, ok := fetchMacros[strings.ToUpper(a.Text)]; ok {
			items := make([]FetchItem, len(m))
			for i, n := range m {
				items[i] = FetchItem{Name: n}
			}
			return items, nil
		}
		it, err := ParseFetchItem(a.Text)
		if err != nil {
			return nil, err
		}
		return []FetchItem{it}, nil
	}
	if a.Kind != ArgList || len(a.List) == 0 {
		return nil, fmt.Errorf("imap: FETCH wants ALL, FAST, FULL, an item, or a list of items, not %s", a)
	}
	items := make([]FetchItem, 0, len(a.List))
	for _, e := range a.List {
		if e.Kind != ArgAtom {
			return nil, fmt.Errorf("imap: FETCH item %s: not an item name", e)
		}
		if _, ok := fetchMacros[strings.ToUpper(e.Text)]; ok {
			return nil, fmt.Errorf("imap: FETCH macro %s must be used alone, not in a list", e.Text)
		}
		it, err := ParseFetchItem(e.Text)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, nil
}

// ParseFetchItem parses one item: "FLAGS", "BODY.PEEK[HEADER]<0.100>".
func ParseFetchItem(s string) (FetchItem, error) {
	open := strings.IndexByte(s, '[')
	if open < 0 {
		n := strings.ToUpper(s)
		if !fetchNames[n] {
			return FetchItem{}, fmt.Errorf("imap: unknown FETCH item %q", s)
		}
		return FetchItem{Name: n}, nil
	}
	var it FetchItem
	switch strings.ToUpper(s[:open]) {
	case "BODY":
	case "BODY.PEEK":
		it.Peek = true
	default:
		return FetchItem{}, fmt.Errorf("imap: FETCH item %q: only BODY and BODY.PEEK take a [section]", s)
	}
	it.Name = "BODY[]"
	closeAt := strings.LastIndexByte(s, ']')
	if closeAt < open {
		return FetchItem{}, fmt.Errorf("imap: FETCH item %q: missing \"]\"", s)
	}
	it.Section = upperOutsideQuotes(s[open+1 : closeAt])
	rest := s[closeAt+1:]
	if rest == "" {
		return it, nil
	}
	// RFC 3501 section 6.4.5: <origin.count>, both numbers, count nz.
	inner, ok := strings.CutPrefix(rest, "<")
	if inner, ok = strings.CutSuffix(inner, ">"); !ok || !strings.HasPrefix(rest, "<") {
		return FetchItem{}, fmt.Errorf("imap: FETCH item %q: after \"]\" only <origin.count> may follow", s)
	}
	o, c, ok := strings.Cut(inner, ".")
	if !ok {
		return FetchItem{}, fmt.Errorf("imap: FETCH item %q: partial range is <origin.count>", s)
	}
	origin, err1 := ParseNumber(o)
	count, err2 := ParseNumber(c)
	if err1 != nil || err2 != nil || count == 0 {
		return FetchItem{}, fmt.Errorf("imap: FETCH item %q: partial range is <origin.count> with count > 0", s)
	}
	it.Partial, it.Origin, it.Count = true, origin, count
	return it, nil
}

// upperOutsideQuotes upper-cases section text except inside quoted strings
// and collapses nothing else: "header.fields (from)" gives
// "HEADER.FIELDS (FROM)".
func upperOutsideQuotes(s string) string {
	b := []byte(s)
	inQuote := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			inQuote = !inQuote
		case c == '\\' && inQuote:
			i++
		case !inQuote && c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
