package imapserver

import (
	"strconv"
	"strings"

	"github.com/maillab/maillab/protocols/imap"
	"github.com/maillab/maillab/protocols/imap/imapmsg"
	"github.com/maillab/maillab/protocols/mail"
)

// cmdSearch finds messages (RFC 3501 section 6.4.4); UID SEARCH answers
// with UIDs. The flags, dates and sizes of the messages come from one
// Mailbox.Lookup. Only keys that look into the message make it read the
// message: BODY and TEXT its full text; header keys (FROM, SUBJECT,
// HEADER, SENTON...) only its header, through HeaderReader when the
// mailbox has it, and not even that when the session's headerCache holds
// the fields already.
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
	needs := imapmsg.SearchNeeds(key)
	s := c.sel
	cols := s.cache.columns(needs.Fields)
	maxSeq, maxUID := uint32(len(s.uids)), s.maxUID()
	b := []byte("SEARCH")
	cand := new(imapmsg.Candidate) // one for all, as are the fields of get
	var fields []mail.Field
	// Flags, dates and sizes: asked for once, for the messages not gone.
	var live []uint32
	if len(s.gone) == 0 {
		live = s.uids
	} else {
		live = make([]uint32, 0, len(s.uids))
		for _, uid := range s.uids {
			if !s.isGone(uid) {
				live = append(live, uid)
			}
		}
	}
	msgs := s.lookup(live)
	j := 0 // live[j], msgs[j]: the next message not gone
	for i, uid := range s.uids {
		if j == len(live) || live[j] != uid {
			continue // gone
		}
		m := &msgs[j]
		j++
		if m.UID == 0 {
			continue // expunged by another session meanwhile
		}
		*cand = imapmsg.Candidate{
			SeqNum: uint32(i + 1), UID: m.UID, Flags: m.Flags, Recent: m.Recent,
			InternalDate: m.InternalDate, Size: m.Size,
		}
		switch {
		case needs.Body:
			raw, err := s.mbox.Read(m.UID)
			if err != nil {
				continue // expunged meanwhile
			}
			cand.Raw = raw // Match parses only what its keys need
		case len(needs.Fields) > 0:
			h, ok := s.cache.get(m.UID, cols, fields[:0])
			fields = h.Fields
			if !ok {
				block, err := s.readHeader(m.UID)
				if err != nil {
					continue // expunged meanwhile
				}
				h = mail.ParseHeaderFields(block, needs.Fields...)
				s.cache.put(m.UID, h, cols)
			}
			cand.SetHeader(h, nil)
		}
		if !imapmsg.Match(cand, key, maxSeq, maxUID) {
			continue
		}
		n := cand.SeqNum
		if isUID {
			n = m.UID
		}
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(n), 10)
	}
	c.bw.WriteString("* ")
	c.bw.Write(b)
	c.bw.WriteString("\r\n")
	return nil
}

// readHeader returns a message's header block: from HeaderReader when the
// mailbox has it, else cut from the full text.
func (s *selected) readHeader(uid uint32) ([]byte, error) {
	if s.hr != nil {
		return s.hr.ReadHeader(uid)
	}
	raw, err := s.mbox.Read(uid)
	if err != nil {
		return nil, err
	}
	header, _ := imapmsg.SplitHeader(raw)
	return header, nil
}

// headerCacheBytes bounds a session's headerCache, as counted by
// fieldCost: about 10,000 messages' From (or Subject) values.
const headerCacheBytes = 2 << 20

// headerCache keeps, for the selected mailbox, the header fields SEARCH has
// read: for each field a search key named, the values of that field in
// each message (none when the message has no such field). A message never
// changes under its UID while the mailbox keeps its UIDVALIDITY, so an
// entry never goes stale; the cache belongs to the selection (selected)
// and goes with it at SELECT, EXAMINE, CLOSE, UNSELECT and logout, and
// with it any question of a new UIDVALIDITY. Expunged messages are
// forgotten. Once headerCacheBytes are used, new entries are not kept:
// a search over a mailbox larger than the cache then finds its first part
// cached, where evicting the oldest would, scan after scan, keep nothing
// it asks for next.
type headerCache struct {
	cols  map[string]map[uint32][]string // field name, lower-case → UID → values
	bytes int
}

// columnCost estimates the memory of an empty column, its name apart.
const columnCost = 128

// fieldCost estimates the memory of one cached entry: the map slot, the
// slice and the strings.
func fieldCost(values []string) int {
	n := 64
	for _, v := range values {
		n += 16 + len(v)
	}
	return n
}

// cacheCol is one field's column of a headerCache.
type cacheCol struct {
	key    string              // the field name, lower-case
	values map[uint32][]string // UID → the values of that field in the message
}

// columns returns the cache's columns for names, made as needed, or nil
// when one of the names cannot be cached (a name that is not ASCII, whose
// folding strings.ToLower may not preserve: header field names are ASCII,
// RFC 5322 section 2.2).
func (hc *headerCache) columns(names []string) []cacheCol {
	if len(names) == 0 {
		return nil
	}
	cols := make([]cacheCol, len(names))
	for i, name := range names {
		for j := 0; j < len(name); j++ {
			if name[j] >= 0x80 {
				return nil
			}
		}
		key := strings.ToLower(name)
		col, ok := hc.cols[key]
		if !ok {
			// A column costs too: many names searched once must not
			// grow the cache past its bound.
			cost := columnCost + len(key)
			if hc.bytes+cost > headerCacheBytes {
				return nil
			}
			if hc.cols == nil {
				hc.cols = map[string]map[uint32][]string{}
			}
			col = map[uint32][]string{}
			hc.cols[key] = col
			hc.bytes += cost
		}
		cols[i] = cacheCol{key: key, values: col}
	}
	return cols
}

// get returns the header of uid reduced to the fields of cols, if the
// cache holds all of them, its fields appended to buf.
func (hc *headerCache) get(uid uint32, cols []cacheCol, buf []mail.Field) (mail.Header, bool) {
	h := mail.Header{Fields: buf}
	if cols == nil {
		return h, false
	}
	for _, col := range cols {
		values, ok := col.values[uid]
		if !ok {
			return mail.Header{Fields: buf[:0]}, false
		}
		for _, v := range values {
			h.Fields = append(h.Fields, mail.Field{Name: col.key, Value: v})
		}
	}
	return h, true
}

// put keeps the fields of h, the header of uid reduced to (at least) the
// fields of cols, while there is room.
func (hc *headerCache) put(uid uint32, h mail.Header, cols []cacheCol) {
	for _, col := range cols {
		if _, ok := col.values[uid]; ok {
			continue
		}
		values := h.Values(col.key)
		cost := fieldCost(values)
		if hc.bytes+cost > headerCacheBytes {
			return
		}
		if values == nil {
			values = []string{} // known: the message has no such field
		}
		for j, v := range values {
			values[j] = strings.Clone(v)
		}
		col.values[uid] = values
		hc.bytes += cost
	}
}

// forget drops what the cache holds of uid, an expunged message.
func (hc *headerCache) forget(uid uint32) {
	for _, col := range hc.cols {
		if values, ok := col[uid]; ok {
			hc.bytes -= fieldCost(values)
			delete(col, uid)
		}
	}
}
