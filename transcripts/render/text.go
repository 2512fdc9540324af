// Package render turns transcript events into what a class reads: a plain
// or colored text transcript (Text), JSON Lines (JSON), and Normalize for
// golden tests. It is the only maillab package that knows about color.
//
// The plain transcript, one event per line:
//
//	#1  smtp  alice (127.0.0.1:40312) → mx.a.test (127.0.0.1:2525)
//	#1  mx.a.test  S: 220 mx.a.test ESMTP maillab
//	#1  alice      C: EHLO alice.a.test
//	                  # The client introduces itself and asks which extensions
//	                    (ESMTP) the server offers; ...
//	#1  mx.a.test  ·  Ready -> Mail
//	#1  smtp  closed by alice
//
// The connection id, the agent that wrote the line (names padded so the
// columns align), the direction (C: written by the client, S: by the
// server), then the line. State changes and notes are marked "·" and dimmed;
// error replies (4yz/5yz, -ERR, NO/BAD) use the error color; with Explain the
// explanation follows on its own line. Message text is cut after a few lines
// and credentials are masked unless asked otherwise.
//
// TLS: a completed handshake is one line marked "≡" in its own color:
//
//	#1  alice      ≡  TLS 1.3 handshake done: cipher TLS_AES_128_GCM_SHA256, server certificate ...
//
// and the lines after it are shown decrypted, as the lab's agents see them.
// The TLS records on the socket (wire events) are hidden, unless
// Options.Wire asks for the wire view: what a sniffer on the link captures.
// The wire view shows the lines that crossed in the clear (a password among
// them is shown masked but marked "(readable by anyone on the link)", or as
// it crossed with ShowSecrets), the handshake line, and after it only the
// records, "C: [TLS record: application data, 41 bytes]", never a decrypted
// line. The warning the tap adds after a password sent without TLS is shown
// in the error color.
package render

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/fatih/color"

	"github.com/maillab/maillab/protocols/wire"
	"github.com/maillab/maillab/transcripts"
	"github.com/maillab/maillab/transcripts/explain"
)

// BulkLines is how many lines of a message text Text shows before eliding
// the rest, unless Options.ShowBulk.
const BulkLines = 5

// Palette is one color per role. DefaultPalette gives the lab's.
type Palette struct {
	Client  *color.Color // lines written by the client
	Server  *color.Color // lines written by the server
	Note    *color.Color // state changes, notes, open and close
	Error   *color.Color // error replies
	Explain *color.Color // explanations
	TLS     *color.Color // TLS handshakes and records; nil means Note
	Warning *color.Color // the plaintext-password warning; nil means Error
}

// DefaultPalette returns new colors: client cyan, server green, notes
// faint, errors bold red, explanations gray.
func DefaultPalette() *Palette {
	return &Palette{
		Client:  color.New(color.FgCyan),
		Server:  color.New(color.FgGreen),
		Note:    color.New(color.Faint),
		Error:   color.New(color.FgRed, color.Bold),
		Explain: color.New(color.FgHiBlack),
		TLS:     color.New(color.FgMagenta),
		Warning: color.New(color.FgYellow, color.Bold),
	}
}

// Options configure Text.
type Options struct {
	// Color turns ANSI colors on; cmd/maillab derives it from the terminal,
	// NO_COLOR and --no-color. The global color.NoColor is never consulted.
	Color bool
	// Explain adds an explanation (package explain) under each line that
	// has one.
	Explain bool
	// Lang is the language of explanations: "en" (default) or "es".
	Lang string
	// ShowBulk shows message text in full; by default the first BulkLines
	// lines are shown, then "… N more lines of message text".
	ShowBulk bool
	// ShowSecrets shows credentials; by default they are masked as "***".
	ShowSecrets bool
	// Wire is the wire view, what a sniffer on the link captures: the
	// lines that crossed in the clear, then only the TLS records (events
	// of kind wire) and none of the decrypted lines, notes or state changes
	// recorded inside TLS. Without it, records are hidden and the
	// decrypted lines are shown.
	Wire bool
	// Width is where explanations wrap: 0 means 100 columns, a negative
	// value means no wrapping.
	Width int
	// Palette colors the roles; nil means DefaultPalette(). NewText enables
	// or disables each of its colors according to Color, so a palette must
	// not be shared by two Texts with different Color settings.
	Palette *Palette
}

// Text writes a transcript for people to read, live, one event at a time.
// It is safe for concurrent use.
type Text struct {
	mu    sync.Mutex
	w     io.Writer
	opts  Options
	pal   *Palette
	width int // of the agent column: the longest name seen so far
	bulk  map[int]*bulkState
	order []int // conns with a bulk state, in order of first bulk line
}

type bulkState struct {
	shown, hidden int
	prefix        string // column text for the summary line
}

// NewText returns a Text writing to w.
func NewText(w io.Writer, opts Options) *Text {
	pal := opts.Palette
	if pal == nil {
		pal = DefaultPalette()
	}
	p := *pal
	if p.TLS == nil {
		p.TLS = p.Note
	}
	if p.Warning == nil {
		p.Warning = p.Error
	}
	pal = &p
	for _, c := range []*color.Color{pal.Client, pal.Server, pal.Note, pal.Error, pal.Explain, pal.TLS, pal.Warning} {
		if opts.Color {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	switch {
	case opts.Width == 0:
		opts.Width = 100
	case opts.Width < 0:
		opts.Width = int(^uint(0) >> 1)
	}
	return &Text{w: w, opts: opts, pal: pal, bulk: make(map[int]*bulkState)}
}

// Write renders one event.
func (t *Text) Write(e transcripts.Event) error {
	if e.Kind == transcripts.KindWire && !t.opts.Wire || e.TLS && t.opts.Wire {
		return nil // a record in the decrypted view; a decrypted event in the wire view
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	if !(e.Kind == transcripts.KindLine && e.Bulk && !t.opts.ShowBulk) {
		t.endBulk(&b, e.Conn)
	}
	switch e.Kind {
	case transcripts.KindOpen:
		t.grow(e.Client)
		t.grow(e.Server)
		b.WriteString(t.pal.Note.Sprint(idCol(e.Conn) + e.Proto + "  " + openText(e)))
		b.WriteByte('\n')
	case transcripts.KindClose:
		b.WriteString(t.pal.Note.Sprint(idCol(e.Conn) + e.Proto + "  " + e.Line))
		b.WriteByte('\n')
	case transcripts.KindState, transcripts.KindNote:
		t.grow(e.Agent)
		c := t.pal.Note
		if strings.HasPrefix(e.Line, "WARNING:") {
			c = t.pal.Warning
		}
		b.WriteString(c.Sprint(idCol(e.Conn) + t.pad(e.Agent) + "  ·  " + e.Line))
		b.WriteByte('\n')
	case transcripts.KindTLS:
		t.grow(e.Agent)
		b.WriteString(t.pal.TLS.Sprint(idCol(e.Conn) + t.pad(e.Agent) + "  ≡  " + e.Line))
		b.WriteByte('\n')
		t.explainLine(&b, "tls", 0, e.Line, idCol(e.Conn)+t.pad(e.Agent)+"  ≡  ")
	case transcripts.KindWire:
		writer := e.Server
		if e.Dir == wire.ClientToServer {
			writer = e.Client
		}
		t.grow(writer)
		prefix := idCol(e.Conn) + t.pad(writer) + "  " + dirText(e) + ": "
		b.WriteString(t.pal.TLS.Sprint(prefix + "[" + e.Line + "]"))
		b.WriteByte('\n')
		t.explainLine(&b, "tls", e.Dir, e.Line, prefix)
	case transcripts.KindLine:
		t.line(&b, e)
	default:
		b.WriteString(idCol(e.Conn) + string(e.Kind) + " " + e.Line + "\n")
	}
	if b.Len() == 0 {
		// A hidden line of message text: no empty write (under load a
		// live lab made some 30 of them per message).
		return nil
	}
	_, err := io.WriteString(t.w, b.String())
	if err != nil {
		return fmt.Errorf("render: %w", err)
	}
	return nil
}

// Flush writes what is pending: the summary of a message text whose end has
// not been seen.
func (t *Text) Flush() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	for _, id := range append([]int(nil), t.order...) {
		t.endBulk(&b, id)
	}
	if _, err := io.WriteString(t.w, b.String()); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	return nil
}

// line renders a protocol line, eliding message text and masking secrets.
func (t *Text) line(b *strings.Builder, e transcripts.Event) {
	writer := e.Server
	c := t.pal.Server
	if e.Dir == wire.ClientToServer {
		writer, c = e.Client, t.pal.Client
	}
	t.grow(writer)
	prefix := idCol(e.Conn) + t.pad(writer) + "  " + dirText(e) + ": "
	if e.Bulk && !t.opts.ShowBulk {
		st := t.bulk[e.Conn]
		if st == nil {
			st = &bulkState{}
			t.bulk[e.Conn] = st
			t.order = append(t.order, e.Conn)
		}
		st.prefix = prefix
		if st.shown >= BulkLines {
			st.hidden++
			return
		}
		st.shown++
	}
	text := e.Line
	if e.Secret && !t.opts.ShowSecrets {
		text = maskSecret(e.Proto, text)
		if t.opts.Wire && !e.TLS {
			text += " (readable by anyone on the link)"
		}
	}
	if e.Dir == wire.ServerToClient && isErrorReply(text) {
		c = t.pal.Error
	}
	b.WriteString(c.Sprint(prefix + text))
	b.WriteByte('\n')
	if !e.Bulk {
		t.explainLine(b, e.Proto, e.Dir, text, prefix)
	}
}

// explainLine writes, with Explain, the explanation of a line of proto
// under it, indented past prefix.
func (t *Text) explainLine(b *strings.Builder, proto string, dir wire.Direction, text, prefix string) {
	if !t.opts.Explain {
		return
	}
	x := explain.Explain(proto, dir, text, t.opts.Lang)
	if x == "" {
		return
	}
	indent := strings.Repeat(" ", utf8.RuneCountInString(prefix))
	for i, l := range wrap(x, t.opts.Width-len(indent)-2) {
		mark := "# "
		if i > 0 {
			mark = "  "
		}
		b.WriteString(t.pal.Explain.Sprint(indent + mark + l))
		b.WriteByte('\n')
	}
}

// endBulk writes the summary of conn's elided message text, if any.
func (t *Text) endBulk(b *strings.Builder, conn int) {
	st, ok := t.bulk[conn]
	if !ok {
		return
	}
	delete(t.bulk, conn)
	for i, id := range t.order {
		if id == conn {
			t.order = append(t.order[:i:i], t.order[i+1:]...)
			break
		}
	}
	if st.hidden > 0 {
		b.WriteString(t.pal.Note.Sprintf("%s… %d more lines of message text", st.prefix, st.hidden))
		b.WriteByte('\n')
	}
}

func (t *Text) grow(name string) {
	if n := utf8.RuneCountInString(name); n > t.width {
		t.width = n
	}
}

func (t *Text) pad(name string) string {
	if n := utf8.RuneCountInString(name); n < t.width {
		return name + strings.Repeat(" ", t.width-n)
	}
	return name
}

// idCol is the connection column: "#1  ", or blanks outside a connection.
func idCol(conn int) string {
	if conn == 0 {
		return "    "
	}
	return fmt.Sprintf("%-4s", "#"+strconv.Itoa(conn))
}

func dirText(e transcripts.Event) string {
	if e.DirText != "" {
		return e.DirText
	}
	return e.Dir.String()
}

// openText shows both ends: "alice (127.0.0.1:40312) → mx.a.test
// (127.0.0.1:2525)"; an end named by its address is shown once.
func openText(e transcripts.Event) string {
	ca, sa, ok := strings.Cut(e.Line, " -> ")
	if !ok {
		return e.Client + " → " + e.Server + "  " + e.Line
	}
	end := func(name, addr string) string {
		if name == "" || name == addr {
			return addr
		}
		return name + " (" + addr + ")"
	}
	return end(e.Client, ca) + " → " + end(e.Server, sa)
}

// maskSecret hides credentials but keeps the command: "AUTH PLAIN ***",
// "PASS ***", "a1 LOGIN ***"; any other secret line becomes "***".
func maskSecret(proto, line string) string {
	f := strings.Fields(line)
	keep := 0
	switch {
	case len(f) >= 3 && strings.EqualFold(f[0], "AUTH"):
		keep = 2
	case len(f) >= 2 && strings.EqualFold(f[0], "PASS"):
		keep = 1
	case proto == "imap" && len(f) >= 3 && strings.EqualFold(f[1], "LOGIN"):
		keep = 2
	case proto == "imap" && len(f) >= 4 && strings.EqualFold(f[1], "AUTHENTICATE"):
		keep = 3
	}
	return strings.Join(append(f[:keep:keep], "***"), " ")
}

// isErrorReply reports a negative reply: SMTP 4yz/5yz (RFC 5321 section
// 4.2.1), POP3 -ERR (RFC 1939 section 3), IMAP NO/BAD (RFC 9051 section 7.1).
func isErrorReply(line string) bool {
	if len(line) >= 3 && (line[0] == '4' || line[0] == '5') &&
		line[1] >= '0' && line[1] <= '9' && line[2] >= '0' && line[2] <= '9' &&
		(len(line) == 3 || line[3] == ' ' || line[3] == '-') {
		return true
	}
	if strings.HasPrefix(line, "-ERR") {
		return true
	}
	f := strings.Fields(line)
	return len(f) >= 2 && (f[1] == "NO" || f[1] == "BAD")
}

// wrap cuts text at spaces into lines of at most width runes (a longer word
// gets a line of its own); width < 20 is taken as 20.
func wrap(text string, width int) []string {
	width = max(width, 20)
	var lines []string
	line, n := "", 0
	// Keep "RFC 5321" on one line.
	text = strings.ReplaceAll(text, "RFC ", "RFC\x00")
	for _, w := range strings.Fields(text) {
		w = strings.ReplaceAll(w, "RFC\x00", "RFC ")
		wn := utf8.RuneCountInString(w)
		if n > 0 && n+1+wn > width {
			lines = append(lines, line)
			line, n = "", 0
		}
		if n > 0 {
			line += " "
			n++
		}
		line += w
		n += wn
	}
	if n > 0 {
		lines = append(lines, line)
	}
	return lines
}
