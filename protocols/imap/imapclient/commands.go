package imapclient

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MailboxStatus is what the client knows about a mailbox, from SELECT or
// EXAMINE (RFC 3501 section 6.3.1) or from STATUS (section 6.3.10).
type MailboxStatus struct {
	Name        string
	Exists      uint32 // messages in the mailbox (STATUS MESSAGES)
	Recent      uint32 // messages with \Recent
	UIDValidity uint32
	UIDNext     uint32
	// Unseen differs between the two commands, as in the RFC: after
	// SELECT it is [UNSEEN n], the sequence number of the first unseen
	// message (section 7.1); after STATUS the number of unseen messages.
	Unseen         uint32
	Flags          []string // FLAGS: the flags the mailbox knows
	PermanentFlags []string // [PERMANENTFLAGS]: those that survive the session; `\*` allows new keywords
	ReadOnly       bool     // [READ-ONLY], or EXAMINE
}

// ListEntry is one LIST or LSUB response (RFC 3501 section 7.2.2).
type ListEntry struct {
	Attributes []string // e.g. `\Noselect`, `\HasChildren`, `\Sent`
	Delimiter  string   // hierarchy delimiter, "" when the server has none (NIL)
	Name       string   // as sent: modified UTF-7 is not decoded
}

// CopyUID is the COPYUID response code of UIDPLUS (RFC 4315 section 3):
// the UIDs the copied messages got in the destination.
type CopyUID struct {
	UIDValidity uint32 // of the destination
	Source      string // UID set in the source, e.g. "304,319:320"
	Dest        string // UID set in the destination, e.g. "3956:3958"
}

// AppendUID is the APPENDUID response code of UIDPLUS (RFC 4315 section 3).
type AppendUID struct {
	UIDValidity uint32
	UID         uint32
}

// UpdateKind is the kind of news the server sends unasked.
type UpdateKind int

const (
	UpdateExists  UpdateKind = iota + 1 // * n EXISTS: the mailbox now holds n messages
	UpdateRecent                        // * n RECENT: n messages are new to this session
	UpdateExpunge                       // * n EXPUNGE: message n is gone, later ones move down
	UpdateFetch                         // * n FETCH (...): flags (or more) of message n changed
	UpdateAlert                         // * OK [ALERT] text: the user must see text
	UpdateBye                           // * BYE text: the server is closing the connection
)

// Update is one piece of unsolicited news (RFC 3501 section 7: "a server
// MAY send ... data ... at any time").
type Update struct {
	Kind  UpdateKind
	Num   uint32       // the count (EXISTS, RECENT) or sequence number (EXPUNGE, FETCH)
	Fetch *FetchResult // UpdateFetch
	Text  string       // UpdateAlert, UpdateBye
}

// String renders the update as the untagged response it came from.
func (u Update) String() string {
	n := strconv.FormatUint(uint64(u.Num), 10)
	switch u.Kind {
	case UpdateExists:
		return n + " EXISTS"
	case UpdateRecent:
		return n + " RECENT"
	case UpdateExpunge:
		return n + " EXPUNGE"
	case UpdateFetch:
		s := n + " FETCH"
		if u.Fetch != nil && u.Fetch.Flags != nil {
			s += " (FLAGS (" + strings.Join(u.Fetch.Flags, " ") + "))"
		}
		return s
	case UpdateAlert:
		return "OK [ALERT] " + u.Text
	case UpdateBye:
		return "BYE " + u.Text
	}
	return "update " + strconv.Itoa(int(u.Kind))
}

// simple runs a command built by b with no data of its own.
func (c *Client) simple(name, verb string, b *builder) (*response, error) {
	if b.err != nil {
		return nil, fmt.Errorf("imapclient: %s: %w", name, b.err)
	}
	return c.exec(&command{verb: verb, name: name, parts: b.parts})
}

// Capability asks for the server's capabilities (RFC 3501 section 6.1.1)
// and returns them upper-cased, e.g. "IMAP4REV1", "IDLE", "AUTH=PLAIN".
//
//	C: a001 CAPABILITY
//	S: * CAPABILITY IMAP4rev1 IDLE LITERAL+ AUTH=PLAIN
//	S: a001 OK CAPABILITY completed
func (c *Client) Capability() ([]string, error) {
	c.caps = nil
	if _, err := c.simple("CAPABILITY", "CAPABILITY", new(builder).add("CAPABILITY")); err != nil {
		return nil, err
	}
	if c.caps == nil {
		c.caps, c.capOrder = map[string]bool{}, nil
	}
	return c.Caps(), nil
}

// Caps returns the capabilities last seen (CAPABILITY response or code),
// in the order sent; nil when unknown.
func (c *Client) Caps() []string {
	if c.caps == nil {
		return nil
	}
	return append([]string{}, c.capOrder...)
}

// HasCap reports whether the server announced capability name
// (case-insensitive), asking with CAPABILITY first if the client does not
// know them.
func (c *Client) HasCap(name string) (bool, error) {
	if c.caps == nil {
		if _, err := c.Capability(); err != nil {
			return false, err
		}
	}
	return c.caps[strings.ToUpper(name)], nil
}

// setCaps records a CAPABILITY list.
func (c *Client) setCaps(fs []field) {
	c.caps = map[string]bool{}
	c.capOrder = nil
	for _, f := range fs {
		if s, ok := f.astring(); ok {
			s = strings.ToUpper(s)
			if !c.caps[s] {
				c.caps[s] = true
				c.capOrder = append(c.capOrder, s)
			}
		}
	}
}

// codeCaps records a [CAPABILITY ...] response code (RFC 3501 section 7.1).
func (c *Client) codeCaps(r *response) {
	if r.code != "CAPABILITY" {
		return
	}
	var fs []field
	for _, w := range strings.Fields(r.codeArg) {
		fs = append(fs, field{kind: fieldAtom, atom: w})
	}
	c.setCaps(fs)
}

// Login authenticates with a user name and a password in the clear (RFC 3501
// section 6.2.3). The line is marked secret for the transcript, and
// BeforeCommand sees "LOGIN user ***". While the server announces
// LOGINDISABLED (before StartTLS) it fails without sending anything.
//
//	C: a002 LOGIN alice ***
//	S: a002 OK LOGIN completed
func (c *Client) Login(user, pass string) error {
	if c.caps["LOGINDISABLED"] {
		// RFC 3501 section 6.2.3: the client MUST NOT send LOGIN while
		// the server announces LOGINDISABLED; the password stays here.
		return fmt.Errorf("imapclient: LOGIN %s: the server announces LOGINDISABLED: call StartTLS first", user)
	}
	b := new(builder).add("LOGIN ").astring(user).add(" ").astring(pass)
	if b.err != nil {
		return fmt.Errorf("imapclient: LOGIN %s: %w", user, b.err)
	}
	_, err := c.exec(&command{verb: "LOGIN", name: "LOGIN " + user, display: "LOGIN " + user + " ***", parts: b.parts, secret: true})
	return err
}

// AuthenticatePlain authenticates with SASL PLAIN (RFC 4616) through
// AUTHENTICATE (RFC 3501 section 6.2.2): the initial response goes on the
// command line when the server announced SASL-IR (RFC 4959), after the
// server's "+" otherwise. The credentials are marked secret.
//
//	C: a002 AUTHENTICATE PLAIN
//	S: +
//	C: AGFsaWNlAHNlY3JldA==
//	S: a002 OK Success
func (c *Client) AuthenticatePlain(user, pass string) error {
	name := "AUTHENTICATE PLAIN " + user
	if strings.ContainsRune(user+pass, 0) {
		return fmt.Errorf("imapclient: %s: user name and password may not hold NUL", name)
	}
	ir := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	if ir == "" {
		ir = "=" // RFC 4959 section 3: an empty initial response
	}
	if c.caps == nil && c.state == StateNotAuthenticated {
		if _, err := c.Capability(); err != nil {
			return err
		}
	}
	cmd := &command{verb: "AUTHENTICATE", name: name}
	if c.caps["SASL-IR"] {
		cmd.parts = []part{{text: "AUTHENTICATE PLAIN " + ir}}
		cmd.display, cmd.secret = "AUTHENTICATE PLAIN ***", true
	} else {
		cmd.parts = []part{{text: "AUTHENTICATE PLAIN"}}
		sent := false
		cmd.onCont = func(r *response) error {
			if sent {
				// RFC 3501 section 6.2.2: "*" cancels the exchange.
				return c.writeLine("*", false)
			}
			sent = true
			if err := c.before("***", "", "", false); err != nil {
				return err
			}
			return c.writeLine(ir, true)
		}
	}
	_, err := c.exec(cmd)
	return err
}

// List lists the mailboxes matching pattern under ref (RFC 3501 section
// 6.3.8); "%" matches within one level, "*" across levels.
//
//	C: a003 LIST "" *
//	S: * LIST (\HasNoChildren) "/" INBOX
//	S: a003 OK LIST completed
func (c *Client) List(ref, pattern string) ([]ListEntry, error) {
	return c.list("LIST", ref, pattern)
}

// Lsub lists the subscribed mailboxes matching pattern (RFC 3501 section
// 6.3.9).
func (c *Client) Lsub(ref, pattern string) ([]ListEntry, error) {
	return c.list("LSUB", ref, pattern)
}

func (c *Client) list(verb, ref, pattern string) ([]ListEntry, error) {
	b := new(builder).add(verb + " ").astring(ref).add(" ").listMailbox(pattern)
	name := verb + " " + quote(ref) + " " + pattern
	if b.err != nil {
		return nil, fmt.Errorf("imapclient: %s: %w", name, b.err)
	}
	out := []ListEntry{}
	_, err := c.exec(&command{verb: verb, name: name, parts: b.parts, onData: func(r *response) (bool, error) {
		if r.kind != respData || r.name != verb {
			return false, nil
		}
		// mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR
		// DQUOTE / nil) SP mailbox (RFC 3501 section 9).
		if len(r.fields) < 3 || r.fields[0].kind != fieldList {
			return true, fmt.Errorf("%w: %q", ErrMalformed, clip(r.raw))
		}
		delim, ok1 := r.fields[1].nstring()
		name, ok2 := r.fields[2].astring()
		if !ok1 || !ok2 {
			return true, fmt.Errorf("%w: %q", ErrMalformed, clip(r.raw))
		}
		out = append(out, ListEntry{Attributes: atoms(r.fields[0]), Delimiter: delim, Name: name})
		return true, nil
	}})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Select opens a mailbox read-write (RFC 3501 section 6.3.1) and returns its
// status; the client then keeps it up to date (Mailbox).
//
//	C: a004 SELECT INBOX
//	S: * 18 EXISTS
//	S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
//	S: * OK [UIDVALIDITY 3857529045] UIDs valid
//	S: a004 OK [READ-WRITE] SELECT completed
func (c *Client) Select(name string) (*MailboxStatus, error) { return c.sel("SELECT", name) }

// Examine opens a mailbox read-only (RFC 3501 section 6.3.2): flags do not
// change, not even \Seen.
func (c *Client) Examine(name string) (*MailboxStatus, error) { return c.sel("EXAMINE", name) }

func (c *Client) sel(verb, name string) (*MailboxStatus, error) {
	b := new(builder).add(verb + " ").astring(name)
	if b.err != nil {
		return nil, fmt.Errorf("imapclient: %s %s: %w", verb, name, b.err)
	}
	// The new mailbox's status is built from the untagged responses by
	// model and finished.
	old := c.mbox
	c.mbox = &MailboxStatus{Name: name}
	if _, err := c.exec(&command{verb: verb, name: verb + " " + name, parts: b.parts, onData: func(r *response) (bool, error) {
		switch {
		case r.kind == respData && (r.name == "EXISTS" || r.name == "RECENT" || r.name == "FLAGS"):
			return true, nil
		case r.kind == respStatus && r.status == "OK" && r.code != "ALERT":
			return true, nil
		}
		return false, nil
	}}); err != nil {
		var e *Error
		if !errors.As(err, &e) {
			c.mbox = old // not sent, or the connection is gone
		}
		return nil, err
	}
	return c.Mailbox(), nil
}

// mboxCode applies the response codes of SELECT (RFC 3501 section 7.1).
func (c *Client) mboxCode(m *MailboxStatus, r *response) {
	n, err := strconv.ParseUint(r.codeArg, 10, 32)
	switch r.code {
	case "UIDVALIDITY":
		if err == nil {
			m.UIDValidity = uint32(n)
		}
	case "UIDNEXT":
		if err == nil {
			m.UIDNext = uint32(n)
		}
	case "UNSEEN":
		if err == nil {
			m.Unseen = uint32(n)
		}
	case "PERMANENTFLAGS":
		p := &parser{b: []byte(r.codeArg)}
		if f, err := p.field(); err == nil && f.kind == fieldList {
			m.PermanentFlags = atoms(f)
		}
	case "READ-ONLY":
		m.ReadOnly = true
	case "READ-WRITE":
		m.ReadOnly = false
	}
}

// Status asks about a mailbox without selecting it (RFC 3501 section
// 6.3.10). items are STATUS data items; none means MESSAGES RECENT UIDNEXT
// UIDVALIDITY UNSEEN. Exists holds MESSAGES, Unseen the number of unseen
// messages.
//
//	C: a005 STATUS Archive (MESSAGES UNSEEN)
//	S: * STATUS Archive (MESSAGES 231 UNSEEN 3)
//	S: a005 OK STATUS completed
func (c *Client) Status(name string, items ...string) (*MailboxStatus, error) {
	if len(items) == 0 {
		items = []string{"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN"}
	}
	b := new(builder).add("STATUS ").astring(name).add(" (")
	for i, it := range items {
		if checkFlags([]string{it}) != nil || strings.HasPrefix(it, `\`) {
			b.fail(fmt.Errorf("bad status item %q", it))
		}
		if i > 0 {
			b.add(" ")
		}
		b.add(it)
	}
	b.add(")")
	cmdName := "STATUS " + name
	if b.err != nil {
		return nil, fmt.Errorf("imapclient: %s: %w", cmdName, b.err)
	}
	st := &MailboxStatus{Name: name}
	_, err := c.exec(&command{verb: "STATUS", name: cmdName, parts: b.parts, onData: func(r *response) (bool, error) {
		if r.kind != respData || r.name != "STATUS" {
			return false, nil
		}
		if len(r.fields) != 2 || r.fields[1].kind != fieldList || len(r.fields[1].list)%2 != 0 {
			return true, fmt.Errorf("%w: %q", ErrMalformed, clip(r.raw))
		}
		l := r.fields[1].list
		for i := 0; i < len(l); i += 2 {
			n, _ := l[i+1].number()
			switch strings.ToUpper(l[i].atom) {
			case "MESSAGES":
				st.Exists = n
			case "RECENT":
				st.Recent = n
			case "UIDNEXT":
				st.UIDNext = n
			case "UIDVALIDITY":
				st.UIDValidity = n
			case "UNSEEN":
				st.Unseen = n
			}
		}
		return true, nil
	}})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// Create creates a mailbox (RFC 3501 section 6.3.3).
func (c *Client) Create(name string) error { return c.mailboxCmd("CREATE", name) }

// Delete deletes a mailbox (RFC 3501 section 6.3.4).
func (c *Client) Delete(name string) error { return c.mailboxCmd("DELETE", name) }

// Subscribe adds a mailbox to the subscriptions (RFC 3501 section 6.3.6).
func (c *Client) Subscribe(name string) error { return c.mailboxCmd("SUBSCRIBE", name) }

// Unsubscribe removes a mailbox from the subscriptions (RFC 3501 section
// 6.3.7).
func (c *Client) Unsubscribe(name string) error { return c.mailboxCmd("UNSUBSCRIBE", name) }

func (c *Client) mailboxCmd(verb, name string) error {
	_, err := c.simple(verb+" "+name, verb, new(builder).add(verb+" ").astring(name))
	return err
}

// Rename renames a mailbox (RFC 3501 section 6.3.5).
func (c *Client) Rename(from, to string) error {
	_, err := c.simple("RENAME "+from+" "+to, "RENAME", new(builder).add("RENAME ").astring(from).add(" ").astring(to))
	return err
}

// Fetch fetches items of the messages in set (RFC 3501 section 6.4.5), e.g.
// Fetch("1:3", "(UID FLAGS ENVELOPE BODY.PEEK[])"). items is written as
// given. Results come in the order the server sent them, one per message.
//
//	C: a006 FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])
//	S: * 1 FETCH (FLAGS (\Seen) BODY[HEADER.FIELDS (SUBJECT)] {16}
//	S: Subject: hi
//	S:
//	S: )
//	S: a006 OK FETCH completed
func (c *Client) Fetch(set, items string) ([]FetchResult, error) {
	return c.fetch("FETCH", set, items)
}

// UIDFetch is Fetch with UIDs for set (RFC 3501 section 6.4.8).
func (c *Client) UIDFetch(set, items string) ([]FetchResult, error) {
	return c.fetch("UID FETCH", set, items)
}

func (c *Client) fetch(verb, set, items string) ([]FetchResult, error) {
	name := verb + " " + set + " " + items
	if err := checkSet(set); err != nil {
		return nil, fmt.Errorf("imapclient: %s: %w", name, err)
	}
	if err := checkText("fetch items", items); err != nil {
		return nil, fmt.Errorf("imapclient: %s: %w", name, err)
	}
	return c.fetchLike(&command{verb: verb, name: name, parts: []part{{text: name}}})
}

// fetchLike runs a command answered by FETCH responses (FETCH, STORE).
func (c *Client) fetchLike(cmd *command) ([]FetchResult, error) {
	out := []FetchResult{}
	index := map[uint32]int{}
	cmd.onData = func(r *response) (bool, error) {
		if r.kind != respData || r.name != "FETCH" {
			return false, nil
		}
		if r.bad != nil {
			return true, r.bad
		}
		f, err := parseFetch(r)
		if err != nil {
			return true, err
		}
		// A server may send several FETCH responses for one message.
		if i, ok := index[f.SeqNum]; ok {
			out[i].merge(f)
		} else {
			index[f.SeqNum] = len(out)
			out = append(out, *f)
		}
		return true, nil
	}
	if _, err := c.exec(cmd); err != nil {
		return nil, err
	}
	return out, nil
}

// Search returns the sequence numbers of the messages matching criteria
// (RFC 3501 section 6.4.4), written as given: `UNSEEN FROM "bob"`.
//
//	C: a007 SEARCH UNSEEN
//	S: * SEARCH 2 5
//	S: a007 OK SEARCH completed
func (c *Client) Search(criteria string) ([]uint32, error) { return c.search("SEARCH", criteria) }

// UIDSearch is Search returning UIDs (RFC 3501 section 6.4.8).
func (c *Client) UIDSearch(criteria string) ([]uint32, error) {
	return c.search("UID SEARCH", criteria)
}

func (c *Client) search(verb, criteria string) ([]uint32, error) {
	name := verb + " " + criteria
	if err := checkText("search criteria", criteria); err != nil {
		return nil, fmt.Errorf("imapclient: %s: %w", name, err)
	}
	out := []uint32{}
	_, err := c.exec(&command{verb: verb, name: name, parts: []part{{text: name}}, onData: func(r *response) (bool, error) {
		if r.kind != respData || r.name != "SEARCH" {
			return false, nil
		}
		if r.bad != nil {
			return true, r.bad
		}
		n, err := numbers(r.fields)
		out = append(out, n...)
		return true, err
	}})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Store changes flags (RFC 3501 section 6.4.6): item is FLAGS, +FLAGS or
// -FLAGS, optionally with .SILENT. It returns the FETCH responses the
// server sends with the new flags (none with .SILENT).
//
//	C: a008 STORE 2 +FLAGS (\Deleted)
//	S: * 2 FETCH (FLAGS (\Deleted \Seen))
//	S: a008 OK STORE completed
func (c *Client) Store(set, item string, flags []string) ([]FetchResult, error) {
	return c.store("STORE", set, item, flags)
}

// UIDStore is Store with UIDs for set (RFC 3501 section 6.4.8).
func (c *Client) UIDStore(set, item string, flags []string) ([]FetchResult, error) {
	return c.store("UID STORE", set, item, flags)
}

func (c *Client) store(verb, set, item string, flags []string) ([]FetchResult, error) {
	name := verb + " " + set + " " + item + " (" + strings.Join(flags, " ") + ")"
	if err := checkSet(set); err != nil {
		return nil, fmt.Errorf("imapclient: %s: %w", name, err)
	}
	switch strings.ToUpper(strings.TrimSuffix(strings.ToUpper(item), ".SILENT")) {
	case "FLAGS", "+FLAGS", "-FLAGS":
	default:
		return nil, fmt.Errorf("imapclient: %s: store item must be FLAGS, +FLAGS or -FLAGS", name)
	}
	if err := checkFlags(flags); err != nil {
		return nil, fmt.Errorf("imapclient: %s: %w", name, err)
	}
	return c.fetchLike(&command{verb: verb, name: name, parts: []part{{text: name}}})
}

// Copy copies messages to another mailbox (RFC 3501 section 6.4.7). The
// result is the server's COPYUID (RFC 4315), nil when it sent none.
// A NO [TRYCREATE] means the mailbox does not exist yet.
func (c *Client) Copy(set, mailbox string) (*CopyUID, error) { return c.copy("COPY", set, mailbox) }

// UIDCopy is Copy with UIDs for set (RFC 3501 section 6.4.8).
func (c *Client) UIDCopy(set, mailbox string) (*CopyUID, error) {
	return c.copy("UID COPY", set, mailbox)
}

func (c *Client) copy(verb, set, mailbox string) (*CopyUID, error) {
	name := verb + " " + set + " " + mailbox
	if err := checkSet(set); err != nil {
		return nil, fmt.Errorf("imapclient: %s: %w", name, err)
	}
	var cu *CopyUID
	b := new(builder).add(verb + " " + set + " ").astring(mailbox)
	if b.err != nil {
		return nil, fmt.Errorf("imapclient: %s: %w", name, b.err)
	}
	cmd := &command{verb: verb, name: name, parts: b.parts, onData: func(r *response) (bool, error) {
		// RFC 6851 section 4.3: MOVE sends COPYUID in an untagged OK.
		if r.kind == respStatus && r.code == "COPYUID" {
			cu = parseCopyUID(r.codeArg)
			return true, nil
		}
		if r.kind == respData && r.name == "EXPUNGE" {
			return true, nil
		}
		return false, nil
	}}
	r, err := c.exec(cmd)
	if err != nil {
		return nil, err
	}
	if r.code == "COPYUID" {
		cu = parseCopyUID(r.codeArg)
	}
	return cu, nil
}

// parseCopyUID reads resp-code-copy = "COPYUID" SP nz-number SP uid-set SP
// uid-set (RFC 4315 section 4).
func parseCopyUID(arg string) *CopyUID {
	f := strings.Fields(arg)
	if len(f) != 3 {
		return nil
	}
	v, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil {
		return nil
	}
	return &CopyUID{UIDValidity: uint32(v), Source: f[1], Dest: f[2]}
}

// Move moves messages to another mailbox with MOVE (RFC 6851) when the
// server announces it, and otherwise as RFC 6851 section 1 describes: COPY,
// STORE +FLAGS.SILENT (\Deleted), EXPUNGE. That fallback also expunges any
// other message already marked \Deleted.
func (c *Client) Move(set, mailbox string) (*CopyUID, error) { return c.move(false, set, mailbox) }

// UIDMove is Move with UIDs for set; its fallback ends with UID EXPUNGE
// (RFC 4315 section 2.1) when the server announces UIDPLUS, so only the
// moved messages are expunged.
func (c *Client) UIDMove(set, mailbox string) (*CopyUID, error) { return c.move(true, set, mailbox) }

func (c *Client) move(uid bool, set, mailbox string) (*CopyUID, error) {
	prefix := ""
	if uid {
		prefix = "UID "
	}
	hasMove, err := c.HasCap("MOVE")
	if err != nil {
		return nil, err
	}
	if hasMove {
		return c.copy(prefix+"MOVE", set, mailbox)
	}
	cu, err := c.copy(prefix+"COPY", set, mailbox)
	if err != nil {
		return nil, err
	}
	if _, err := c.store(prefix+"STORE", set, "+FLAGS.SILENT", []string{`\Deleted`}); err != nil {
		return cu, err
	}
	if uid && c.caps["UIDPLUS"] {
		_, err = c.expunge("UID EXPUNGE " + set)
	} else {
		_, err = c.expunge("EXPUNGE")
	}
	return cu, err
}

// Expunge removes the messages marked \Deleted (RFC 3501 section 6.4.3) and
// returns the sequence numbers the server reported, in its order (each one
// counted after the previous removals).
//
//	C: a009 EXPUNGE
//	S: * 3 EXPUNGE
//	S: * 3 EXPUNGE
//	S: a009 OK EXPUNGE completed
func (c *Client) Expunge() ([]uint32, error) { return c.expunge("EXPUNGE") }

func (c *Client) expunge(line string) ([]uint32, error) {
	out := []uint32{}
	verb := "EXPUNGE"
	if strings.HasPrefix(line, "UID ") {
		verb = "UID EXPUNGE"
	}
	_, err := c.exec(&command{verb: verb, name: line, parts: []part{{text: line}}, onData: func(r *response) (bool, error) {
		if r.kind == respData && r.name == "EXPUNGE" {
			out = append(out, r.num)
			return true, nil
		}
		return false, nil
	}})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Append adds msg to mailbox (RFC 3501 section 6.3.11) with flags and an
// internal date (none when nil and zero). The message goes as a literal:
// synchronizing, after the server's "+", or at once with LITERAL+ (RFC
// 7888). Its octets are marked bulk for the transcript. The result is the
// server's APPENDUID (RFC 4315), nil when it sent none.
//
//	C: a010 APPEND Sent (\Seen) {310}
//	S: + Ready for literal data
//	C: (310 octets)
//	S: a010 OK [APPENDUID 38505 3955] APPEND completed
func (c *Client) Append(mailbox string, flags []string, date time.Time, msg []byte) (*AppendUID, error) {
	name := "APPEND " + mailbox
	if err := checkFlags(flags); err != nil {
		return nil, fmt.Errorf("imapclient: %s: %w", name, err)
	}
	if c.caps == nil {
		if _, err := c.Capability(); err != nil {
			return nil, err
		}
	}
	b := new(builder).add("APPEND ").astring(mailbox).add(" ")
	if flags != nil {
		b.add("(" + strings.Join(flags, " ") + ") ")
	}
	if !date.IsZero() {
		b.add(formatDate(date) + " ")
	}
	b.literal(msg, true)
	if b.err != nil {
		return nil, fmt.Errorf("imapclient: %s: %w", name, b.err)
	}
	r, err := c.exec(&command{verb: "APPEND", name: name, parts: b.parts})
	if err != nil {
		return nil, err
	}
	if r.code != "APPENDUID" {
		return nil, nil
	}
	f := strings.Fields(r.codeArg)
	if len(f) != 2 {
		return nil, nil
	}
	v, err1 := strconv.ParseUint(f[0], 10, 32)
	u, err2 := strconv.ParseUint(f[1], 10, 32)
	if err1 != nil || err2 != nil {
		return nil, nil
	}
	return &AppendUID{UIDValidity: uint32(v), UID: uint32(u)}, nil
}

// Noop does nothing but give the server a chance to send news (RFC 3501
// section 6.1.2), which reaches OnUnilateral and the mailbox model.
func (c *Client) Noop() error {
	_, err := c.simple("NOOP", "NOOP", new(builder).add("NOOP"))
	return err
}

// CloseMailbox sends CLOSE (RFC 3501 section 6.4.2): the selected mailbox
// is closed, and its \Deleted messages are removed silently unless it was
// opened with EXAMINE.
func (c *Client) CloseMailbox() error {
	_, err := c.simple("CLOSE", "CLOSE", new(builder).add("CLOSE"))
	return err
}

// Unselect closes the selected mailbox without expunging (RFC 3691).
func (c *Client) Unselect() error {
	_, err := c.simple("UNSELECT", "UNSELECT", new(builder).add("UNSELECT"))
	return err
}

// Logout ends the session (RFC 3501 section 6.1.3): the server answers
// "* BYE" and the tagged OK; the connection is closed whatever it says.
//
//	C: a011 LOGOUT
//	S: * BYE IMAP4rev1 Server logging out
//	S: a011 OK LOGOUT completed
func (c *Client) Logout() error {
	_, err := c.exec(&command{verb: "LOGOUT", name: "LOGOUT", parts: []part{{text: "LOGOUT"}}, onData: func(r *response) (bool, error) {
		return r.kind == respStatus && r.status == "BYE", nil
	}})
	// RFC 3501 section 6.1.3: the BYE is expected here; a server that
	// closes before its tagged OK has still logged us out.
	var e *Error
	if errors.As(err, &e) && e.Status == "BYE" {
		err = nil
	}
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	c.fail(fmt.Errorf("imapclient: session ended with LOGOUT"))
	return err
}
