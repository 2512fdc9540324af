package imapclient

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FetchResult is what one FETCH response told about one message (RFC 3501
// section 7.4.2). Fields the server did not send keep their zero value.
type FetchResult struct {
	SeqNum       uint32
	UID          uint32
	Flags        []string
	InternalDate time.Time
	Size         int64 // RFC822.SIZE
	Envelope     *Envelope
	// Body holds BODY[...], BINARY[...], RFC822, RFC822.HEADER and
	// RFC822.TEXT, keyed by the item as the server echoed it, e.g.
	// "BODY[]", "BODY[HEADER.FIELDS (SUBJECT)]", "BODY[]<0>".
	Body map[string][]byte
	// BodyStructure is BODYSTRUCTURE (or the shorter BODY) as sent.
	BodyStructure string
}

// Envelope is the ENVELOPE fetch item: the message's header fields as the
// server parsed them (RFC 3501 section 7.4.2). Strings are as sent: encoded
// words (RFC 2047) are not decoded.
type Envelope struct {
	Date, Subject                      string
	From, Sender, ReplyTo, To, Cc, Bcc []Address
	InReplyTo, MessageID               string
}

// Address is one address of an envelope: "Name" <Mailbox@Host>.
type Address struct {
	Name, Mailbox, Host string
}

// String renders the address as a header would show it.
func (a Address) String() string {
	addr := a.Mailbox + "@" + a.Host
	if a.Name == "" {
		return addr
	}
	return quote(a.Name) + " <" + addr + ">"
}

// internalDateLayout: date-time = DQUOTE date-day-fixed "-" date-month "-"
// date-year SP time SP zone DQUOTE (RFC 3501 section 9).
const internalDateLayout = "_2-Jan-2006 15:04:05 -0700"

// parseFetch reads "* n FETCH (item value ...)".
func parseFetch(r *response) (*FetchResult, error) {
	if len(r.fields) != 1 || r.fields[0].kind != fieldList {
		return nil, fmt.Errorf("%w: FETCH without a list: %q", ErrMalformed, clip(r.raw))
	}
	l := r.fields[0].list
	if len(l)%2 != 0 {
		return nil, fmt.Errorf("%w: FETCH item without a value: %q", ErrMalformed, clip(r.raw))
	}
	f := &FetchResult{SeqNum: r.num}
	for i := 0; i < len(l); i += 2 {
		if err := f.item(r, l[i], l[i+1]); err != nil {
			return nil, fmt.Errorf("%w: FETCH %s: %v", ErrMalformed, l[i].atom, err)
		}
	}
	return f, nil
}

func (f *FetchResult) item(r *response, name, v field) error {
	if name.kind != fieldAtom {
		return fmt.Errorf("item name expected")
	}
	n := strings.ToUpper(name.atom)
	var ok bool
	switch {
	case n == "UID":
		f.UID, ok = v.number()
	case n == "FLAGS":
		ok = v.kind == fieldList
		f.Flags = atoms(v)
	case n == "INTERNALDATE":
		var s string
		if s, ok = v.nstring(); ok {
			t, err := time.Parse(internalDateLayout, s)
			if err != nil {
				return err
			}
			f.InternalDate = t
		}
	case n == "RFC822.SIZE":
		var s uint32
		s, ok = v.number()
		f.Size = int64(s)
	case n == "ENVELOPE":
		env, err := parseEnvelope(v)
		if err != nil {
			return err
		}
		f.Envelope, ok = env, true
	case n == "BODYSTRUCTURE" || n == "BODY":
		f.BodyStructure, ok = string(r.raw[v.start:v.end]), v.kind == fieldList
	case strings.HasPrefix(n, "BODY[") || strings.HasPrefix(n, "BINARY[") ||
		n == "RFC822" || n == "RFC822.HEADER" || n == "RFC822.TEXT":
		var s string
		if s, ok = v.nstring(); ok {
			if f.Body == nil {
				f.Body = map[string][]byte{}
			}
			var b []byte
			if v.kind == fieldString {
				b = []byte(s)
			}
			f.Body[name.atom] = b
		}
	default:
		// Items the lab does not use (MODSEQ, BINARY.SIZE, X-GM-...).
		ok = true
	}
	if !ok {
		return fmt.Errorf("bad value")
	}
	return nil
}

// merge adds what g says about the same message.
func (f *FetchResult) merge(g *FetchResult) {
	if g.UID != 0 {
		f.UID = g.UID
	}
	if g.Flags != nil {
		f.Flags = g.Flags
	}
	if !g.InternalDate.IsZero() {
		f.InternalDate = g.InternalDate
	}
	if g.Size != 0 {
		f.Size = g.Size
	}
	if g.Envelope != nil {
		f.Envelope = g.Envelope
	}
	if g.BodyStructure != "" {
		f.BodyStructure = g.BodyStructure
	}
	for k, v := range g.Body {
		if f.Body == nil {
			f.Body = map[string][]byte{}
		}
		f.Body[k] = v
	}
}

// parseEnvelope reads envelope = "(" env-date SP env-subject SP env-from SP
// env-sender SP env-reply-to SP env-to SP env-cc SP env-bcc SP
// env-in-reply-to SP env-message-id ")" (RFC 3501 section 9).
func parseEnvelope(v field) (*Envelope, error) {
	if v.kind != fieldList || len(v.list) != 10 {
		return nil, fmt.Errorf("envelope is not a list of 10 fields")
	}
	l := v.list
	e := &Envelope{}
	strs := []*string{&e.Date, &e.Subject, &e.InReplyTo, &e.MessageID}
	for i, idx := range []int{0, 1, 8, 9} {
		s, ok := l[idx].nstring()
		if !ok {
			return nil, fmt.Errorf("envelope field %d is not a string", idx+1)
		}
		*strs[i] = s
	}
	lists := []*[]Address{&e.From, &e.Sender, &e.ReplyTo, &e.To, &e.Cc, &e.Bcc}
	for i, p := range lists {
		a, err := parseAddresses(l[2+i])
		if err != nil {
			return nil, err
		}
		*p = a
	}
	return e, nil
}

// parseAddresses reads NIL or a list of address = "(" addr-name SP addr-adl
// SP addr-mailbox SP addr-host ")". The markers of a group (RFC 3501
// section 7.4.2: host NIL) are left out; the group's members are kept.
func parseAddresses(v field) ([]Address, error) {
	if v.kind == fieldNIL {
		return nil, nil
	}
	if v.kind != fieldList {
		return nil, fmt.Errorf("address list expected")
	}
	var out []Address
	for _, a := range v.list {
		if a.kind != fieldList || len(a.list) != 4 {
			return nil, fmt.Errorf("address is not a list of 4 fields")
		}
		var s [4]string
		for i := range s {
			var ok bool
			if s[i], ok = a.list[i].nstring(); !ok {
				return nil, fmt.Errorf("address field %d is not a string", i+1)
			}
		}
		if a.list[3].kind == fieldNIL {
			continue // group start or end
		}
		out = append(out, Address{Name: s[0], Mailbox: s[2], Host: s[3]})
	}
	return out, nil
}

// atoms returns the atoms (and strings) of a list, e.g. flags.
func atoms(v field) []string {
	out := []string{}
	for _, f := range v.list {
		if s, ok := f.astring(); ok {
			out = append(out, s)
		}
	}
	return out
}

// numbers returns the numbers among fields, e.g. of SEARCH.
func numbers(fs []field) ([]uint32, error) {
	out := make([]uint32, 0, len(fs))
	for _, f := range fs {
		n, ok := f.number()
		if !ok {
			return nil, fmt.Errorf("%w: %q is not a number", ErrMalformed, f.atom)
		}
		out = append(out, n)
	}
	return out, nil
}

// formatDate renders t as an APPEND date-time.
func formatDate(t time.Time) string {
	return strconv.Quote(t.Format(internalDateLayout))
}
