package imap

import (
	"strconv"
	"strings"
)

// maxSearchDepth bounds the nesting of NOT, OR and parentheses in SEARCH
// criteria, so a hostile "NOT NOT NOT ..." cannot recurse without end.
const maxSearchDepth = 100

// Charsets SEARCH accepts (RFC 3501 section 6.4.4: US-ASCII is required;
// UTF-8 is what clients send).
var Charsets = []string{"US-ASCII", "UTF-8"}

// ParseSearch parses SEARCH criteria (RFC 3501 section 6.4.4): an optional
// "CHARSET name" and one or more keys, which are ANDed. The result is a
// SearchAnd node holding the top-level keys. An unknown charset gives
// "NO [BADCHARSET (US-ASCII UTF-8)]"; anything else wrong gives BAD.
func ParseSearch(args []Arg) (charset string, key SearchKey, err error) {
	p := searchParser{args: args}
	if len(args) >= 2 && args[0].Kind == ArgAtom && strings.EqualFold(args[0].Text, "CHARSET") {
		cs, ok := args[1].AString()
		if !ok {
			return "", key, Bad("CHARSET wants a charset name")
		}
		charset = strings.ToUpper(cs)
		known := false
		for _, c := range Charsets {
			known = known || c == charset
		}
		if !known {
			// RFC 3501 section 6.4.4: NO with BADCHARSET listing ours.
			return "", key, Errorf(NO, "BADCHARSET ("+strings.Join(Charsets, " ")+")", "Charset %s is not supported", cs)
		}
		p.args = args[2:]
	}
	if len(p.args) == 0 {
		return "", key, Bad("SEARCH wants at least one search key, e.g. ALL, UNSEEN or FROM \"alice\"")
	}
	key = SearchKey{Op: SearchAnd}
	for len(p.args) > 0 {
		k, err := p.key(0)
		if err != nil {
			return "", SearchKey{}, err
		}
		key.Keys = append(key.Keys, k)
	}
	return charset, key, nil
}

type searchParser struct{ args []Arg }

func (p *searchParser) next() (Arg, bool) {
	if len(p.args) == 0 {
		return Arg{}, false
	}
	a := p.args[0]
	p.args = p.args[1:]
	return a, true
}

func (p *searchParser) str(name string) (string, error) {
	a, ok := p.next()
	if !ok {
		return "", Bad("SEARCH %s wants a string", name)
	}
	s, ok := a.AString()
	if !ok {
		return "", Bad("SEARCH %s wants a string, not %s", name, a)
	}
	return s, nil
}

func (p *searchParser) date(name string) (SearchKey, error) {
	s, err := p.str(name)
	if err != nil {
		return SearchKey{}, Bad("SEARCH %s wants a date such as 1-Feb-1994", name)
	}
	t, err := ParseDate(s)
	if err != nil {
		return SearchKey{}, Bad("SEARCH %s: %v", name, strings.TrimPrefix(err.Error(), "imap: "))
	}
	return SearchKey{Date: t}, nil
}

func (p *searchParser) number(name string) (int64, error) {
	a, ok := p.next()
	if !ok || a.Kind != ArgAtom {
		return 0, Bad("SEARCH %s wants a number", name)
	}
	n, err := ParseNumber(a.Text)
	if err != nil {
		return 0, Bad("SEARCH %s wants a number, not %s", name, a.Text)
	}
	return int64(n), nil
}

var searchFlags = map[string]string{
	"ANSWERED": `\Answered`, "DELETED": `\Deleted`, "DRAFT": `\Draft`,
	"FLAGGED": `\Flagged`, "SEEN": `\Seen`, "RECENT": `\Recent`,
}

var searchDates = map[string]SearchOp{
	"BEFORE": SearchBefore, "ON": SearchOn, "SINCE": SearchSince,
	"SENTBEFORE": SearchSentBefore, "SENTON": SearchSentOn, "SENTSINCE": SearchSentSince,
}

// key parses one search-key (RFC 3501 section 9).
func (p *searchParser) key(depth int) (SearchKey, error) {
	if depth > maxSearchDepth {
		return SearchKey{}, Bad("Search keys nested too deep (the limit is %d)", maxSearchDepth)
	}
	a, ok := p.next()
	if !ok {
		return SearchKey{}, Bad("SEARCH: a key is missing at the end")
	}
	if a.Kind == ArgList {
		if len(a.List) == 0 {
			return SearchKey{}, Bad("SEARCH: empty parentheses; a list needs at least one key")
		}
		sub := searchParser{args: a.List}
		k := SearchKey{Op: SearchAnd}
		for len(sub.args) > 0 {
			e, err := sub.key(depth + 1)
			if err != nil {
				return SearchKey{}, err
			}
			k.Keys = append(k.Keys, e)
		}
		return k, nil
	}
	if a.Kind != ArgAtom {
		return SearchKey{}, Bad("SEARCH: expected a search key, found the string %s", a)
	}
	name := strings.ToUpper(a.Text)
	if f, ok := searchFlags[name]; ok {
		return SearchKey{Op: SearchFlag, Flag: f}, nil
	}
	if f, ok := searchFlags[strings.TrimPrefix(name, "UN")]; ok && strings.HasPrefix(name, "UN") && name != "UNRECENT" {
		return SearchKey{Op: SearchFlag, Flag: f, Not: true}, nil
	}
	if op, ok := searchDates[name]; ok {
		k, err := p.date(name)
		k.Op = op
		return k, err
	}
	switch name {
	case "ALL":
		return SearchKey{Op: SearchAll}, nil
	case "NEW":
		return SearchKey{Op: SearchNew}, nil
	case "OLD":
		return SearchKey{Op: SearchOld}, nil
	case "KEYWORD", "UNKEYWORD":
		f, err := p.str(name)
		if err != nil {
			return SearchKey{}, err
		}
		if err := checkFlag(f); err != nil || strings.HasPrefix(f, `\`) {
			return SearchKey{}, Bad("SEARCH %s wants a keyword (a flag without \\), not %q", name, f)
		}
		return SearchKey{Op: SearchFlag, Flag: f, Not: name == "UNKEYWORD"}, nil
	case "BCC", "CC", "FROM", "SUBJECT", "TO":
		v, err := p.str(name)
		// RFC 3501 section 6.4.4: these are HEADER <field> <string>.
		return SearchKey{Op: SearchHeader, Field: strings.ToUpper(name[:1]) + strings.ToLower(name[1:]), Value: v}, err
	case "HEADER":
		f, err := p.str(name)
		if err != nil {
			return SearchKey{}, err
		}
		v, err := p.str(name + " " + f)
		return SearchKey{Op: SearchHeader, Field: f, Value: v}, err
	case "BODY":
		v, err := p.str(name)
		return SearchKey{Op: SearchBody, Value: v}, err
	case "TEXT":
		v, err := p.str(name)
		return SearchKey{Op: SearchText, Value: v}, err
	case "LARGER", "SMALLER":
		n, err := p.number(name)
		op := SearchLarger
		if name == "SMALLER" {
			op = SearchSmaller
		}
		return SearchKey{Op: op, Size: n}, err
	case "UID":
		s, ok := p.next()
		if !ok || s.Kind != ArgAtom {
			return SearchKey{}, Bad("SEARCH UID wants a set of UIDs such as 1:100")
		}
		set, err := ParseSeqSet(s.Text)
		if err != nil {
			return SearchKey{}, Bad("SEARCH UID %s: %v", s.Text, strings.TrimPrefix(err.Error(), "imap: "))
		}
		return SearchKey{Op: SearchUIDSet, Set: set}, nil
	case "NOT":
		k, err := p.key(depth + 1)
		if err != nil {
			return SearchKey{}, err
		}
		return SearchKey{Op: SearchNot, Keys: []SearchKey{k}}, nil
	case "OR":
		k1, err := p.key(depth + 1)
		if err != nil {
			return SearchKey{}, err
		}
		k2, err := p.key(depth + 1)
		if err != nil {
			return SearchKey{}, err
		}
		return SearchKey{Op: SearchOr, Keys: []SearchKey{k1, k2}}, nil
	}
	if c := name[0]; c == '*' || (c >= '0' && c <= '9') {
		set, err := ParseSeqSet(a.Text)
		if err != nil {
			return SearchKey{}, Bad("SEARCH %s: %v", a.Text, strings.TrimPrefix(err.Error(), "imap: "))
		}
		return SearchKey{Op: SearchSeqSet, Set: set}, nil
	}
	return SearchKey{}, Bad("SEARCH: unknown search key %s", strconv.Quote(a.Text))
}
