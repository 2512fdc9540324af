package transcripts

import (
	"time"

	"github.com/maillab/maillab/protocols/wire"
)

// ExchangeLine is one line of an Exchange: a client's query or a server's
// answer, already in text form.
type ExchangeLine struct {
	Dir  wire.Direction // wire.ClientToServer or wire.ServerToClient
	Text string
}

// Exchange records a whole request and its answer that did not cross as
// text lines on a tapped connection: a DNS query over UDP, whose binary
// message the DNS agent summarises as lines. It is recorded as one
// connection of its own, with a new connection id: an open event (Line
// "from -> to"), the lines in order, and a close event ("answered" when a
// server line was recorded, "no answer" otherwise), so the renderers show it
// as they show any connection. client and server name the two agents, proto
// is the protocol ("dns"), from and to are the addresses
// ("127.0.0.1:40312", "127.0.0.1:53"). The lines are escaped and recorded as
// Line events, none bulk or secret.
func (r *Recorder) Exchange(client, server, proto, from, to string, lines []ExchangeLine) {
	cr := &connRec{id: r.newConnID(), client: client, server: server, proto: proto}
	base := Event{Conn: cr.id, Client: client, Server: server, Proto: proto}
	open := base
	open.Kind, open.Line = KindOpen, from+" -> "+to
	r.emit(open)
	answered := false
	var stamp time.Time // the lines crossed together
	for _, l := range lines {
		e := base
		e.Kind, e.Dir, e.DirText, e.Line = KindLine, l.Dir, l.Dir.String(), escapeLine([]byte(l.Text))
		r.emitAt(e, &stamp)
		if l.Dir == wire.ServerToClient {
			answered = true
		}
	}
	end := base
	end.Kind, end.Line = KindClose, "no answer"
	if answered {
		end.Line = "answered"
	}
	r.emit(end)
}
