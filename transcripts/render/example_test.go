package render_test

import (
	"os"

	"github.com/maillab/maillab/protocols/wire"
	"github.com/maillab/maillab/transcripts"
	"github.com/maillab/maillab/transcripts/render"
)

// dialogue is a short SMTP session as a Recorder reports it.
func dialogue() []transcripts.Event {
	conn := func(k transcripts.Kind, d wire.Direction, line string) transcripts.Event {
		return transcripts.Event{Conn: 1, Client: "alice", Server: "mx.a.test", Proto: "smtp",
			Kind: k, Dir: d, DirText: map[wire.Direction]string{wire.ClientToServer: "C", wire.ServerToClient: "S"}[d], Line: line}
	}
	C, S := wire.ClientToServer, wire.ServerToClient
	line := transcripts.KindLine
	evs := []transcripts.Event{
		{Kind: transcripts.KindNote, Agent: "runner", Line: "say: alice writes to bob"},
		conn(transcripts.KindOpen, 0, "127.0.0.1:40312 -> 127.0.0.1:2525"),
		conn(line, S, "220 mx.a.test ESMTP maillab"),
		conn(line, C, "EHLO alice.a.test"),
		conn(line, S, "250-mx.a.test"),
		conn(line, S, "250-SIZE 10240000"),
		conn(line, S, "250 ENHANCEDSTATUSCODES"),
		conn(line, C, "MAIL FROM:<alice@a.test> SIZE=120"),
		conn(line, S, "250 2.1.0 Sender OK"),
		conn(transcripts.KindState, 0, "Ready -> Mail"),
		conn(line, C, "RCPT TO:<nobody@b.test>"),
		conn(line, S, "550 5.1.1 No such user"),
		conn(line, C, "QUIT"),
		conn(line, S, "221 2.0.0 Bye"),
		conn(transcripts.KindClose, 0, "closed by mx.a.test"),
	}
	evs[9].Agent = "mx.a.test"
	return evs
}

func Example() {
	t := render.NewText(os.Stdout, render.Options{})
	for _, e := range dialogue() {
		t.Write(e)
	}
	t.Flush()
	// Output:
	//     runner  ·  say: alice writes to bob
	// #1  smtp  alice (127.0.0.1:40312) → mx.a.test (127.0.0.1:2525)
	// #1  mx.a.test  S: 220 mx.a.test ESMTP maillab
	// #1  alice      C: EHLO alice.a.test
	// #1  mx.a.test  S: 250-mx.a.test
	// #1  mx.a.test  S: 250-SIZE 10240000
	// #1  mx.a.test  S: 250 ENHANCEDSTATUSCODES
	// #1  alice      C: MAIL FROM:<alice@a.test> SIZE=120
	// #1  mx.a.test  S: 250 2.1.0 Sender OK
	// #1  mx.a.test  ·  Ready -> Mail
	// #1  alice      C: RCPT TO:<nobody@b.test>
	// #1  mx.a.test  S: 550 5.1.1 No such user
	// #1  alice      C: QUIT
	// #1  mx.a.test  S: 221 2.0.0 Bye
	// #1  smtp  closed by mx.a.test
}

func Example_explained() {
	t := render.NewText(os.Stdout, render.Options{Explain: true, Lang: "es"})
	evs := dialogue()
	for _, e := range append(evs[1:2], evs[7:9]...) {
		t.Write(e)
	}
	// Output:
	// #1  smtp  alice (127.0.0.1:40312) → mx.a.test (127.0.0.1:2525)
	// #1  alice      C: MAIL FROM:<alice@a.test> SIZE=120
	//                   # MAIL FROM inicia una transacción de correo e indica la ruta inversa, el
	//                     remitente del sobre, adonde irán los rebotes; <> es la ruta vacía que usan los
	//                     propios rebotes (RFC 5321 §4.1.1.2). El parámetro SIZE anuncia el tamaño del
	//                     mensaje en octetos, para que el servidor pueda rechazar un mensaje demasiado
	//                     grande antes de recibirlo (RFC 1870 §6).
	// #1  mx.a.test  S: 250 2.1.0 Sender OK
	//                   # 250: la acción pedida se ha completado; el cliente puede seguir con el siguiente
	//                     comando (RFC 5321 §4.2.3). Código de estado ampliado 2.1.0: se acepta la
	//                     dirección del remitente (RFC 3463 §3.2).
}
