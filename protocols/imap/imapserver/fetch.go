package imapserver

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/maillab/maillab/protocols/imap"
	"github.com/maillab/maillab/protocols/imap/imapmsg"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/wire"
)

// fetchItem is a parsed FETCH item with its section, ready to answer.
type fetchItem struct {
	imap.FetchItem
	section imapmsg.Section
	name    string // as named in the response
}

// cmdFetch returns message data (RFC 3501 section 6.4.5). Fetching BODY[],
// RFC822 or RFC822.TEXT of a read-write mailbox sets \Seen and reports the
// new FLAGS. UID FETCH always includes the UID (section 6.4.8).
//
//	C: a1 FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])
//	S: * 1 FETCH (FLAGS (\Seen) BODY[HEADER.FIELDS (SUBJECT)] {16}
//	S: Subject: hi
//	S:
//	S: )
//	S: a1 OK FETCH completed
func (c *conn) cmdFetch(cmd *imap.Command) error {
	if err := nargs(cmd, 2, 2); err != nil {
		return err
	}
	isUID := cmd.Name == "UID FETCH"
	set, err := seqSetArg(cmd, 0)
	if err != nil {
		return err
	}
	parsed, err := imap.ParseFetch(cmd.Args[1])
	if err != nil {
		return imap.Bad("%s", trimPkg(err))
	}
	items := make([]fetchItem, 0, len(parsed)+1)
	if isUID {
		items = append(items, fetchItem{FetchItem: imap.FetchItem{Name: "UID"}, name: "UID"})
	}
	setsSeen, needText, needTree := false, false, false
	for _, p := range parsed {
		if isUID && p.Name == "UID" {
			continue
		}
		it := fetchItem{FetchItem: p, name: p.Name}
		switch p.Name {
		case "BODY[]":
			sec, err := imapmsg.ParseSection(p.Section)
			if err != nil {
				return imap.Bad("%s", strings.TrimPrefix(err.Error(), "imapmsg: "))
			}
			it.section = sec
			it.Section = sec.String()
			it.name = it.ResponseName()
			needText = true
			needTree = needTree || sec.Specifier != "" || len(sec.Path) > 0
		case "RFC822", "RFC822.HEADER", "RFC822.TEXT":
			needText = true
		case "ENVELOPE", "BODY", "BODYSTRUCTURE":
			needText, needTree = true, true
		}
		setsSeen = setsSeen || p.SetsSeen()
		items = append(items, it)
	}
	setsSeen = setsSeen && !c.sel.readOnly
	idx, err := c.sel.resolve(set, isUID)
	if err != nil {
		return err
	}
	var missing bool
	for _, i := range idx {
		m := &c.sel.msgs[i]
		if m.gone {
			missing = true
			continue
		}
		var raw []byte
		var root *mail.Part
		if needText {
			if raw, err = c.sel.mbox.Read(m.UID); err != nil {
				if errors.Is(err, ErrNoSuchMailbox) {
					return err
				}
				// Expunged by another session since the view was made.
				missing = true
				continue
			}
			if needTree {
				root, _ = mail.ParseMessage(raw) // the tree is usable even with an error
			}
		}
		flagsChanged := false
		if setsSeen && !slices.Contains(m.Flags, `\Seen`) {
			changed, err := c.sel.mbox.Store([]uint32{m.UID}, StoreAdd, []string{`\Seen`})
			if err != nil {
				return err
			}
			for _, ch := range changed {
				if ch.UID == m.UID {
					m.Flags = ch.Flags
					flagsChanged = true
				}
			}
		}
		if err := c.writeFetch(i+1, m.Message, items, raw, root, flagsChanged); err != nil {
			return err
		}
	}
	if missing {
		// RFC 5530 section 3: some messages were expunged meanwhile.
		return imap.Errorf(imap.NO, "EXPUNGEISSUED", "Some of the requested messages no longer exist")
	}
	return nil
}

// writeFetch writes one "* n FETCH (...)" response. Literal message data is
// marked bulk for the transcript.
func (c *conn) writeFetch(seq int, m Message, items []fetchItem, raw []byte, root *mail.Part, addFlags bool) error {
	bw := c.bw
	bw.WriteString("* ")
	bw.WriteString(strconv.Itoa(seq))
	bw.WriteString(" FETCH (")
	hasFlags := false
	for i, it := range items {
		if i > 0 {
			bw.WriteByte(' ')
		}
		switch it.Name {
		case "UID":
			bw.WriteString("UID " + itoa(m.UID))
		case "FLAGS":
			hasFlags = true
			bw.WriteString("FLAGS (" + strings.Join(flagList(m), " ") + ")")
		case "INTERNALDATE":
			bw.WriteString(`INTERNALDATE "` + imap.FormatDateTime(m.InternalDate) + `"`)
		case "RFC822.SIZE":
			bw.WriteString("RFC822.SIZE " + strconv.FormatInt(m.Size, 10))
		case "ENVELOPE":
			bw.WriteString("ENVELOPE " + imapmsg.Envelope(root))
		case "BODY":
			bw.WriteString("BODY " + imapmsg.BodyStructure(root, false))
		case "BODYSTRUCTURE":
			bw.WriteString("BODYSTRUCTURE " + imapmsg.BodyStructure(root, true))
		case "RFC822":
			c.writeLiteral("RFC822", raw)
		case "RFC822.HEADER":
			h, _ := imapmsg.Fetch(raw, root, imapmsg.Section{Specifier: imapmsg.SpecHeader})
			c.writeLiteral("RFC822.HEADER", h)
		case "RFC822.TEXT":
			t, _ := imapmsg.Fetch(raw, root, imapmsg.Section{Specifier: imapmsg.SpecText})
			c.writeLiteral("RFC822.TEXT", t)
		case "BODY[]":
			data, err := imapmsg.Fetch(raw, root, it.section)
			if err != nil {
				return imap.Bad("%s", strings.TrimPrefix(err.Error(), "imapmsg: "))
			}
			if it.Partial {
				data = imapmsg.Partial(data, int64(it.Origin), int64(it.Count))
			}
			c.writeLiteral(it.name, data)
		}
	}
	if addFlags && !hasFlags {
		// RFC 3501 section 6.4.5: the \Seen just set is reported.
		bw.WriteString(" FLAGS (" + strings.Join(flagList(m), " ") + ")")
	}
	bw.WriteString(")\r\n")
	return nil
}

// writeLiteral writes `name {n}` CRLF and the data, marking the data bulk
// in the transcript. The marks land at exact positions only when what is
// buffered before them has left, so a traced session flushes around them.
func (c *conn) writeLiteral(name string, data []byte) {
	c.bw.WriteString(name + " {" + strconv.Itoa(len(data)) + "}\r\n")
	if c.traced {
		c.bw.Flush()
		c.tr.Mark(wire.ServerToClient, wire.MarkBulk)
	}
	c.bw.Write(data)
	if c.traced {
		c.bw.Flush()
		c.tr.Mark(wire.ServerToClient, wire.MarkNone)
	}
}

// cmdSearch finds messages (RFC 3501 section 6.4.4); UID SEARCH answers
// with UIDs. Only keys that look into the message make it read and parse
// the message.
//
//	C: a2 SEARCH UNSEEN FROM "alice"
//	S: * SEARCH 2 5
//	S: a2 OK SEARCH completed
func (c *conn) cmdSearch(cmd *imap.Command) error {
	_, key, err := imap.ParseSearch(cmd.Args)
	if err != nil {
		return err
	}
	isUID := cmd.Name == "UID SEARCH"
	content := needsContent(key)
	s := c.sel
	maxSeq, maxUID := uint32(len(s.msgs)), s.maxUID()
	var b strings.Builder
	b.WriteString("SEARCH")
	for i := range s.msgs {
		m := &s.msgs[i]
		if m.gone {
			continue
		}
		cand := &imapmsg.Candidate{
			SeqNum: uint32(i + 1), UID: m.UID, Flags: m.Flags, Recent: m.Recent,
			InternalDate: m.InternalDate, Size: m.Size,
		}
		if content {
			raw, err := s.mbox.Read(m.UID)
			if err != nil {
				continue // expunged meanwhile
			}
			cand.Raw = raw // Match parses only what its keys need
		}
		if !imapmsg.Match(cand, key, maxSeq, maxUID) {
			continue
		}
		n := cand.SeqNum
		if isUID {
			n = m.UID
		}
		b.WriteByte(' ')
		b.WriteString(itoa(n))
	}
	c.untagged("%s", b.String())
	return nil
}

// needsContent reports whether a search key looks at the message text.
func needsContent(k imap.SearchKey) bool {
	switch k.Op {
	case imap.SearchHeader, imap.SearchBody, imap.SearchText,
		imap.SearchSentBefore, imap.SearchSentOn, imap.SearchSentSince:
		return true
	}
	for _, sub := range k.Keys {
		if needsContent(sub) {
			return true
		}
	}
	return false
}
