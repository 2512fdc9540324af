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
	setsSeen, need, meta := false, needNothing, false
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
			switch {
			case len(sec.Path) > 0:
				need = max(need, needTree)
			case sec.Specifier == "" || sec.Specifier == imapmsg.SpecText:
				need = max(need, needText)
			default: // HEADER, HEADER.FIELDS[.NOT]
				need = max(need, needHeader)
			}
		case "RFC822", "RFC822.TEXT":
			need = max(need, needText)
		case "RFC822.HEADER", "ENVELOPE":
			need = max(need, needHeader)
		case "BODY", "BODYSTRUCTURE":
			need = max(need, needTree)
		case "FLAGS", "INTERNALDATE", "RFC822.SIZE":
			meta = true
		}
		setsSeen = setsSeen || p.SetsSeen()
		items = append(items, it)
	}
	setsSeen = setsSeen && !c.sel.readOnly
	idx, err := c.sel.resolve(set, isUID)
	if err != nil {
		return err
	}
	// Flags, dates and sizes are the mailbox's to keep: asked for once
	// for the command, when it needs them.
	var msgs []Message
	if meta || setsSeen {
		msgs = c.sel.lookup(c.sel.live(idx))
	}
	var missing bool
	for _, i := range idx {
		uid := c.sel.uids[i]
		if len(c.sel.gone) > 0 && c.sel.isGone(uid) {
			missing = true
			continue
		}
		m := Message{UID: uid}
		if msgs != nil {
			m, msgs = msgs[0], msgs[1:]
			if m.UID == 0 {
				missing = true // expunged by another session since the view was made
				continue
			}
		}
		d, err := c.sel.load(uid, need)
		if err != nil {
			if errors.Is(err, ErrNoSuchMailbox) {
				return err
			}
			// Expunged by another session since the view was made.
			missing = true
			continue
		}
		flagsChanged := false
		if setsSeen && !slices.Contains(m.Flags, `\Seen`) {
			changed, err := c.sel.mbox.Store([]uint32{uid}, StoreAdd, []string{`\Seen`})
			if err != nil {
				return err
			}
			for _, ch := range changed {
				if ch.UID == uid {
					m.Flags = ch.Flags
					flagsChanged = true
				}
			}
		}
		if err := c.writeFetch(i+1, m, items, &d, flagsChanged); err != nil {
			return err
		}
	}
	if missing {
		// RFC 5530 section 3: some messages were expunged meanwhile.
		return imap.Errorf(imap.NO, "EXPUNGEISSUED", "Some of the requested messages no longer exist")
	}
	return nil
}

// What a FETCH reads of each message, the least first.
const (
	needNothing = iota // UID, FLAGS, INTERNALDATE, RFC822.SIZE
	needHeader         // ENVELOPE, RFC822.HEADER, BODY[HEADER...]: the header block
	needText           // RFC822, BODY[], BODY[TEXT]: the full text, cut after the header
	needTree           // BODY, BODYSTRUCTURE, BODY[1.2...]: the MIME structure too
)

// fetchData is what FETCH read of one message.
type fetchData struct {
	raw    []byte     // the full text, from needText
	header []byte     // the header block, from needHeader
	body   []byte     // what follows the header, from needText
	root   *mail.Part // the MIME tree, for needTree
}

// load reads what need says of the message uid, each message once and
// parsed at most once: the header alone through HeaderReader when the
// mailbox has it and nothing more is needed.
func (s *selected) load(uid uint32, need int) (fetchData, error) {
	var d fetchData
	var err error
	switch {
	case need == needNothing:
	case need == needHeader && s.hr != nil:
		d.header, err = s.hr.ReadHeader(uid)
	default:
		if d.raw, err = s.mbox.Read(uid); err != nil {
			break
		}
		d.header, d.body = imapmsg.SplitHeader(d.raw)
		if need == needTree {
			d.root, _ = mail.ParseMessage(d.raw) // the tree is usable even with an error
		}
	}
	return d, err
}

// section returns the octets of BODY[sec].
func (d *fetchData) section(sec imapmsg.Section) ([]byte, error) {
	if len(sec.Path) > 0 {
		return imapmsg.Fetch(d.raw, d.root, sec)
	}
	switch sec.Specifier {
	case "":
		return d.raw, nil
	case imapmsg.SpecText:
		return d.body, nil
	case imapmsg.SpecHeader:
		return d.header, nil
	}
	return imapmsg.Fetch(d.header, nil, sec) // HEADER.FIELDS[.NOT]: no tree needed
}

// writeFetch writes one "* n FETCH (...)" response. Literal message data is
// marked bulk for the transcript.
func (c *conn) writeFetch(seq int, m Message, items []fetchItem, d *fetchData, addFlags bool) error {
	bw := c.bw
	bw.WriteString("* ")
	c.writeInt(int64(seq))
	bw.WriteString(" FETCH (")
	hasFlags := false
	for i, it := range items {
		if i > 0 {
			bw.WriteByte(' ')
		}
		switch it.Name {
		case "UID":
			bw.WriteString("UID ")
			c.writeInt(int64(m.UID))
		case "FLAGS":
			hasFlags = true
			bw.WriteString("FLAGS (" + strings.Join(flagList(m), " ") + ")")
		case "INTERNALDATE":
			bw.WriteString(`INTERNALDATE "` + imap.FormatDateTime(m.InternalDate) + `"`)
		case "RFC822.SIZE":
			bw.WriteString("RFC822.SIZE ")
			c.writeInt(m.Size)
		case "ENVELOPE":
			if d.root != nil {
				bw.WriteString("ENVELOPE " + imapmsg.Envelope(d.root))
			} else {
				bw.WriteString("ENVELOPE " + imapmsg.EnvelopeOfHeader(d.header))
			}
		case "BODY":
			bw.WriteString("BODY " + imapmsg.BodyStructure(d.root, false))
		case "BODYSTRUCTURE":
			bw.WriteString("BODYSTRUCTURE " + imapmsg.BodyStructure(d.root, true))
		case "RFC822":
			c.writeLiteral("RFC822", d.raw)
		case "RFC822.HEADER":
			c.writeLiteral("RFC822.HEADER", d.header)
		case "RFC822.TEXT":
			c.writeLiteral("RFC822.TEXT", d.body)
		case "BODY[]":
			data, err := d.section(it.section)
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
// in the transcript. The tap places a mark at the byte position it has
// reached: with a tracer that takes marks ahead of that position
// (aheadMarker, as transcripts.Conn does) the marks go at the position the
// data will have once the buffer is written, and the response goes out in
// as few writes as the buffer allows; with one that does not, the buffer is
// flushed before each mark so that the marks land where they should.
func (c *conn) writeLiteral(name string, data []byte) {
	c.bw.WriteString(name)
	c.bw.WriteString(" {")
	c.writeInt(int64(len(data)))
	c.bw.WriteString("}\r\n")
	switch {
	case c.ahead != nil:
		c.markAhead(wire.MarkBulk)
		c.bw.Write(data)
		c.markAhead(wire.MarkNone)
	case c.traced:
		c.bw.Flush()
		c.tr.Mark(wire.ServerToClient, wire.MarkBulk)
		c.bw.Write(data)
		c.bw.Flush()
		c.tr.Mark(wire.ServerToClient, wire.MarkNone)
	default:
		c.bw.Write(data)
	}
}

// maxMarksAhead bounds the marks waiting in the tap for their position
// (the tap keeps 64 at most): past it, markAhead flushes.
const maxMarksAhead = 32

// markAhead marks the output from the end of what is buffered on.
func (c *conn) markAhead(m wire.Mark) {
	if c.marksAhead >= maxMarksAhead {
		c.bw.Flush()
		c.marksAhead = 0
	}
	c.ahead.MarkAhead(wire.ServerToClient, int64(c.bw.Buffered()), m)
	c.marksAhead++
}

// writeInt writes n in decimal without allocating.
func (c *conn) writeInt(n int64) {
	c.bw.Write(strconv.AppendInt(c.num[:0], n, 10))
}
