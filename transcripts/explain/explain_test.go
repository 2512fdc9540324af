package explain

import (
	"sort"
	"strings"
	"testing"

	"github.com/maillab/maillab/protocols/wire"
)

// Every code the lab sends or receives (FACTS.md sections 1.3 and 1.4).
var (
	wantReplies = strings.Fields(`211 214 220 221 235 250 251 252 334 354 421 450 451 452 454 455
		500 501 502 503 504 521 530 534 535 538 550 551 552 553 554 555`)
	wantEnhanced = strings.Fields(`2.0.0 2.1.0 2.1.5 2.5.0 2.6.0 2.7.0 4.2.2 4.3.0 4.3.2 4.4.1 4.4.2
		4.4.7 4.5.3 4.7.0 5.1.1 5.1.2 5.1.3 5.1.10 5.2.1 5.2.2 5.3.4 5.4.4 5.4.6 5.4.7 5.5.1 5.5.2
		5.5.3 5.5.4 5.5.6 5.6.0 5.7.0 5.7.1 5.7.8 5.7.9 5.7.11`)
	wantCommands = strings.Fields(`HELO EHLO LHLO MAIL RCPT DATA . RSET NOOP QUIT VRFY EXPN HELP STARTTLS AUTH *`)
)

func catalogs(t *testing.T) map[string]catalog {
	t.Helper()
	all, err := load()
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func keys(s *section) []string {
	var out []string
	for kind, m := range s.maps() {
		for k := range m {
			out = append(out, kind+" "+k)
		}
	}
	sort.Strings(out)
	return out
}

func TestEveryKeyInEveryLanguage(t *testing.T) {
	all := catalogs(t)
	en := all["en"]
	for _, lang := range Langs[1:] {
		c := all[lang]
		for proto, s := range en {
			other, ok := c[proto]
			if !ok {
				t.Errorf("%s: no %s section", lang, proto)
				continue
			}
			if got, want := strings.Join(keys(other), "\n"), strings.Join(keys(s), "\n"); got != want {
				t.Errorf("%s/%s keys differ from en:\n%s\nvs\n%s", lang, proto, got, want)
			}
		}
		if len(c) != len(en) {
			t.Errorf("%s has %d protocols, en %d", lang, len(c), len(en))
		}
	}
}

func TestEveryEntryCitesAnRFCAndIsShort(t *testing.T) {
	for lang, c := range catalogs(t) {
		for proto, s := range c {
			for _, m := range s.maps() {
				for k, v := range m {
					if !strings.Contains(v, "(RFC ") {
						t.Errorf("%s/%s %q cites no RFC: %q", lang, proto, k, v)
					}
					if n := strings.Count(v, ". ") + 1; n > 2 || len(v) > 300 {
						t.Errorf("%s/%s %q is too long (%d sentences, %d bytes)", lang, proto, k, n, len(v))
					}
				}
			}
		}
	}
}

func TestEveryLabCodeCovered(t *testing.T) {
	for lang, c := range catalogs(t) {
		s := c["smtp"]
		for _, code := range wantReplies {
			if s.Replies[code] == "" {
				t.Errorf("%s: no reply %s", lang, code)
			}
		}
		for _, code := range wantEnhanced {
			if s.Enhanced[code] == "" {
				t.Errorf("%s: no enhanced code %s", lang, code)
			}
		}
		for _, verb := range wantCommands {
			if s.Commands[verb] == "" {
				t.Errorf("%s: no command %s", lang, verb)
			}
		}
	}
}

func TestExplain(t *testing.T) {
	C, S := wire.ClientToServer, wire.ServerToClient
	for _, tc := range []struct {
		proto string
		dir   wire.Direction
		line  string
		lang  string
		want  []string // substrings, in order; none means ""
	}{
		{"smtp", C, "EHLO alice.a.test", "en", []string{"introduces itself", "(RFC 5321 §4.1.1.1)"}},
		{"smtp", C, "ehlo alice.a.test", "es", []string{"El cliente se presenta"}},
		{"lmtp", C, "LHLO mx.b.test", "en", []string{"LMTP", "(RFC 2033 §4.1)"}},
		{"smtp", C, "MAIL FROM:<alice@a.test> SIZE=1200 BODY=8BITMIME", "en", []string{"reverse-path", "SIZE parameter", "BODY parameter"}},
		{"smtp", C, "MAIL FROM:<>", "es", []string{"ruta inversa", "remitente del sobre"}},
		{"smtp", C, "RCPT TO:<bob@b.test>", "en", []string{"envelope recipient"}},
		{"smtp", C, ".", "en", []string{"single dot ends"}},
		{"smtp", C, "AUTH PLAIN AGFsaWNlAHNlY3JldA==", "en", []string{"SASL"}},
		{"smtp", C, "AGFsaWNlAHNlY3JldA==", "en", nil},
		{"smtp", C, "XYZZY", "en", nil},
		{"smtp", C, "", "en", nil},
		{"smtp", S, "220 mx.a.test ESMTP", "en", []string{"220: the service is ready"}},
		{"smtp", S, "250 2.1.0 Sender OK", "en", []string{"250:", "2.1.0: the sender address"}},
		{"smtp", S, "550 5.1.1 No such user", "es", []string{"550:", "5.1.1: buzón de destino incorrecto"}},
		{"smtp", S, "550 5.7.1 Relaying denied", "en", []string{"550:", "relaying denied", "5.7.1"}},
		{"smtp", S, "452 4.5.3 Too many recipients", "en", []string{"452:", "4.5.3"}},
		{"smtp", S, "250-mx.a.test Hello", "en", nil},
		{"smtp", S, "250-SIZE 10240000", "en", []string{"Extension SIZE"}},
		{"smtp", S, "250-AUTH PLAIN LOGIN", "es", []string{"Extensión AUTH"}},
		{"smtp", S, "250 ENHANCEDSTATUSCODES", "en", []string{"250:", "Extension ENHANCEDSTATUSCODES"}},
		{"smtp", S, "559 5.9.9 odd", "en", []string{"5yz: permanent"}},
		{"smtp", S, "550 5.9.1 odd subject", "en", []string{"550:"}},
		{"smtp", S, "550 5.1.99 unlisted detail", "en", []string{"550:", "address problem"}},
		{"smtp", S, "250 5.1.1 mismatched class", "en", []string{"250:"}},
		{"smtp", S, "25", "en", nil},
		{"smtp", S, "250x", "en", nil},
		{"smtp", S, "hello", "en", nil},
		{"smtp", 0, "EHLO a", "en", nil},
		{"smtp", C, "QUIT", "fr", []string{"The client says goodbye"}},
		{"smtp", C, "QUIT", "es-ES", []string{"El cliente se despide"}},
		{"pop3", C, "QUIT", "en", []string{"UPDATE state"}},
		{"imap", C, "a1 NOOP", "en", []string{"NOOP does nothing"}},
		{"nntp", C, "QUIT", "en", nil},
	} {
		got := Explain(tc.proto, tc.dir, tc.line, tc.lang)
		if len(tc.want) == 0 {
			if got != "" {
				t.Errorf("Explain(%s, %v, %q, %s) = %q, want \"\"", tc.proto, tc.dir, tc.line, tc.lang, got)
			}
			continue
		}
		rest := got
		for _, w := range tc.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("Explain(%s, %v, %q, %s) = %q, want it to contain %q", tc.proto, tc.dir, tc.line, tc.lang, got, w)
				break
			}
			rest = rest[i+len(w):]
		}
	}
}

func FuzzExplain(f *testing.F) {
	for _, v := range wantCommands {
		f.Add(v + " x")
	}
	for _, c := range wantReplies {
		f.Add(c + " 5.1.1 x")
		f.Add(c + "-SIZE 1")
	}
	for _, l := range []string{"+OK maillab POP3 server ready <1.2@x>", "-ERR [SYS/TEMP] x", "a1 LOGIN bob x",
		"* 2 FETCH (FLAGS (\\Deleted \\Seen))", "* OK [UIDVALIDITY 7] x", "+ idling", "a1 UID STORE 1 +FLAGS (\\Seen)"} {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, proto := range []string{"smtp", "pop3", "imap"} {
			for _, d := range []wire.Direction{wire.ClientToServer, wire.ServerToClient} {
				if got := Explain(proto, d, line, "es"); got != "" && !strings.Contains(got, "RFC") {
					t.Errorf("%s: explanation without a citation: %q", proto, got)
				}
			}
		}
	})
}

// What the POP3 and IMAP catalogues must cover, in every language.
var (
	wantPOP3 = map[string][]string{
		"commands": strings.Fields(`USER PASS APOP STAT LIST RETR DELE NOOP RSET QUIT TOP UIDL CAPA AUTH STLS *`),
		"replies": {"+OK", "-ERR", "+", ".", "greeting", "greeting APOP", "+OK USER", "+OK PASS",
			"+OK maildrop", "+OK n size", "+OK n uid", "+OK LIST", "+OK RETR", "+OK TOP", "+OK DELE",
			"+OK UIDL", "+OK CAPA", "+OK AUTH", "+OK STLS", "+OK QUIT", "-ERR QUIT", "-ERR autologout",
			"scan listing", "unique-id listing"},
		"codes":    strings.Fields(`IN-USE AUTH SYS/TEMP SYS/PERM LOGIN-DELAY`),
		"keywords": strings.Fields(`TOP USER UIDL RESP-CODES AUTH-RESP-CODE PIPELINING SASL EXPIRE IMPLEMENTATION LOGIN-DELAY STLS`),
	}
	wantIMAP = map[string][]string{
		"commands": append(strings.Fields(`CAPABILITY NOOP LOGOUT LOGIN AUTHENTICATE STARTTLS SELECT EXAMINE
			CREATE DELETE RENAME SUBSCRIBE UNSUBSCRIBE LIST LSUB STATUS APPEND CHECK CLOSE UNSELECT EXPUNGE
			SEARCH FETCH STORE COPY MOVE IDLE DONE NAMESPACE ENABLE ID *`),
			"UID FETCH", "UID SEARCH", "UID STORE", "UID COPY", "UID MOVE", "UID EXPUNGE"),
		"replies": {"OK", "NO", "BAD", "* OK", "* NO", "* BAD", "* BYE", "* PREAUTH",
			"+", "+ literal", "+ idle", "+ sasl"},
		"data": append(strings.Fields(`CAPABILITY LIST LSUB STATUS SEARCH FLAGS EXISTS RECENT EXPUNGE FETCH
			NAMESPACE ENABLED ID`), "FETCH FLAGS"),
		"codes": strings.Fields(`ALERT PERMANENTFLAGS READ-ONLY READ-WRITE TRYCREATE UIDNEXT UIDVALIDITY
			UNSEEN APPENDUID COPYUID AUTHENTICATIONFAILED CANNOT EXPUNGEISSUED TOOBIG NONEXISTENT
			ALREADYEXISTS CAPABILITY`),
		"flags": strings.Fields(`\Seen \Answered \Flagged \Deleted \Draft \Recent`),
	}
)

func TestEveryPOP3AndIMAPItemCovered(t *testing.T) {
	for lang, c := range catalogs(t) {
		for proto, want := range map[string]map[string][]string{"pop3": wantPOP3, "imap": wantIMAP} {
			s := c[proto]
			if s == nil {
				t.Errorf("%s: no %s section", lang, proto)
				continue
			}
			for kind, ks := range want {
				for _, k := range ks {
					if s.maps()[kind][k] == "" {
						t.Errorf("%s/%s: no %s %q", lang, proto, kind, k)
					}
				}
			}
		}
	}
}

// Every listed command, code and flag is reachable through Explain from a
// line of the shape the wire carries.
func TestEveryPOP3AndIMAPItemReachable(t *testing.T) {
	C, S := wire.ClientToServer, wire.ServerToClient
	for _, lang := range Langs {
		check := func(proto string, dir wire.Direction, line, want string) {
			t.Helper()
			if got := Explain(proto, dir, line, lang); !strings.Contains(got, want) {
				t.Errorf("%s: Explain(%s, %v, %q) = %q, want it to contain %q", lang, proto, dir, line, got, want)
			}
		}
		c := catalogs(t)[lang]
		p, m := c["pop3"], c["imap"]
		for _, v := range wantPOP3["commands"] {
			check("pop3", C, v+" 1", p.Commands[v])
		}
		for _, code := range wantPOP3["codes"] {
			check("pop3", S, "-ERR ["+code+"] text", p.Codes[code])
		}
		for _, k := range wantPOP3["keywords"] {
			check("pop3", S, k+" 1", p.Keywords[k])
		}
		for _, v := range wantIMAP["commands"] {
			line := "a1 " + v + " 1"
			if v == "DONE" || v == "*" {
				line = v
			}
			check("imap", C, line, m.Commands[v])
		}
		for _, code := range wantIMAP["codes"] {
			check("imap", S, "a1 NO ["+code+" 1] text", m.Codes[code])
			check("imap", S, "* OK ["+code+"] text", m.Codes[code])
		}
		for _, k := range wantIMAP["data"] {
			line := "* " + k + " x"
			switch k {
			case "EXISTS", "RECENT", "EXPUNGE":
				line = "* 3 " + k
			case "FETCH":
				line = "* 3 FETCH (UID 4 RFC822.SIZE 120)"
			case "FETCH FLAGS":
				line = "* 3 FETCH (FLAGS (\\Seen))"
			}
			check("imap", S, line, m.Data[k])
		}
		for _, f := range wantIMAP["flags"] {
			check("imap", S, "* 1 FETCH (UID 2 FLAGS ("+f+"))", m.Flags[f])
			check("imap", C, "a1 STORE 1 +FLAGS ("+strings.ToLower(f)+")", m.Flags[f])
		}
	}
}

// Real lines of our servers and clients (copied from their code, doc
// comments and tests), with what each explanation must say, in English and
// in Spanish.
func TestExplainRealLines(t *testing.T) {
	C, S := wire.ClientToServer, wire.ServerToClient
	for _, tc := range []struct {
		proto  string
		dir    wire.Direction
		line   string
		en, es string // "" both: no explanation
	}{
		// POP3: pop3server tests and doc comments, pop3client tests.
		{"pop3", S, "+OK maillab POP3 server ready <1896.697170952@dbc.mtview.ca.us>", "timestamp a client hashes for APOP", "marca de tiempo"},
		{"pop3", S, "+OK ready", "+OK greeting", "Saludo +OK"},
		{"pop3", C, "user bob", "USER names the mailbox", "USER indica el buzón"},
		{"pop3", S, "+OK send PASS", "+OK to USER", "+OK a USER"},
		{"pop3", C, "PASS secret", "PASS gives the password", "PASS da la contraseña"},
		{"pop3", C, "PASS ***", "PASS gives the password", "PASS da la contraseña"},
		{"pop3", S, "+OK bob's maildrop has 2 messages (320 octets)", "maildrop is locked", "buzón queda bloqueado"},
		{"pop3", C, "APOP mrose c4c9334bac560ecc979e58001b3e22fb", "MD5", "MD5"},
		{"pop3", S, "+OK maildrop has 1 message (369 octets)", "TRANSACTION", "TRANSACTION"},
		{"pop3", C, "STAT", "drop listing", "resumen del buzón"},
		{"pop3", S, "+OK 2 320", "+OK to STAT or LIST n", "+OK a STAT o a LIST n"},
		{"pop3", C, "LIST", "scan listing", "listado"},
		{"pop3", S, "+OK 2 messages (320 octets)", "+OK to LIST", "+OK a LIST"},
		{"pop3", S, "1 120", "Scan listing", "Línea del listado"},
		{"pop3", S, ".", "single dot ends the multi-line answer", "un solo punto termina"},
		{"pop3", C, "UIDL", "leaves mail on the server", "deja el correo en el servidor"},
		{"pop3", S, "+OK unique-id listing follows", "+OK to UIDL", "+OK a UIDL"},
		{"pop3", S, "1 whqtswO00WBw418f9t5JxYwZ", "Unique-id listing", "identificador único"},
		{"pop3", S, "2 QhdPYR:00WBw1Ph7x7", "Unique-id listing", "identificador único"},
		{"pop3", S, "+OK 2 mem-2", "+OK to UIDL n", "+OK a UIDL n"},
		{"pop3", C, "RETR 1", "stays on the server unless DELE follows", "sigue en el servidor salvo que después venga DELE"},
		{"pop3", S, "+OK 120 octets", "+OK to RETR", "+OK a RETR"},
		{"pop3", C, "TOP 1 0", "header of message n", "cabecera del mensaje n"},
		{"pop3", S, "+OK top of message follows", "+OK to TOP", "+OK a TOP"},
		{"pop3", C, "DELE 1", "DELE followed by QUIT is what makes POP take the mail away", "DELE seguido de QUIT es lo que hace que POP se lleve el correo"},
		{"pop3", S, "+OK message 2 deleted", "removed only when QUIT enters the UPDATE state", "solo se borra cuando QUIT entra en el estado UPDATE"},
		{"pop3", C, "RSET", "unmarks", "quita la marca"},
		{"pop3", S, "+OK maildrop has 2 messages (320 octets)", "after RSET the DELE marks are undone", "tras RSET se deshacen las marcas de DELE"},
		{"pop3", C, "NOOP", "NOOP does nothing", "NOOP no hace nada"},
		{"pop3", S, "+OK", "positive answer", "respuesta positiva"},
		{"pop3", C, "QUIT", "UPDATE state", "estado UPDATE"},
		{"pop3", S, "+OK maillab POP3 server signing off (1 messages deleted)", "+OK to QUIT", "+OK a QUIT"},
		{"pop3", S, "+OK maillab POP3 server signing off", "+OK to QUIT", "+OK a QUIT"},
		{"pop3", C, "CAPA", "extensions", "extensiones"},
		{"pop3", S, "+OK Capability list follows", "+OK to CAPA", "+OK a CAPA"},
		{"pop3", S, "TOP", "Capability TOP", "Capacidad TOP"},
		{"pop3", S, "USER", "Capability USER", "Capacidad USER"},
		{"pop3", S, "SASL PLAIN", "Capability SASL", "Capacidad SASL"},
		{"pop3", S, "RESP-CODES", "Capability RESP-CODES", "Capacidad RESP-CODES"},
		{"pop3", S, "AUTH-RESP-CODE", "[AUTH]", "[AUTH]"},
		{"pop3", S, "PIPELINING", "Capability PIPELINING", "Capacidad PIPELINING"},
		{"pop3", S, "UIDL", "Capability UIDL", "Capacidad UIDL"},
		{"pop3", S, "EXPIRE NEVER", "Capability EXPIRE", "Capacidad EXPIRE"},
		{"pop3", S, "IMPLEMENTATION maillab", "Capability IMPLEMENTATION", "Capacidad IMPLEMENTATION"},
		{"pop3", C, "AUTH PLAIN", "SASL", "SASL"},
		{"pop3", S, "+ ", "SASL challenge", "desafío SASL"},
		{"pop3", C, "AGJvYgBzZWNyZXQ=", "", ""},
		{"pop3", C, "***", "", ""},
		{"pop3", C, "*", "cancels the AUTH exchange", "cancela el intercambio AUTH"},
		{"pop3", S, "+OK SASL mechanisms follow", "+OK to AUTH", "+OK a AUTH"},
		{"pop3", S, "PLAIN", "", ""},
		{"pop3", S, "-ERR [AUTH] invalid user name or password", "-ERR: negative answer", "[AUTH]: el problema son las credenciales"},
		{"pop3", S, "-ERR [AUTH] invalid user name or password (too many failures, closing connection)", "[AUTH]", "[AUTH]"},
		{"pop3", S, "-ERR [IN-USE] maildrop already locked", "locked by another session", "otra sesión tiene bloqueado el buzón"},
		{"pop3", S, "-ERR [SYS/TEMP] server shutting down", "[SYS/TEMP]: a temporary problem", "[SYS/TEMP]: un problema temporal"},
		{"pop3", S, "-ERR [SYS/TEMP] some deleted messages not removed: disk full", "-ERR to QUIT", "-ERR a QUIT"},
		{"pop3", S, "-ERR autologout: idle for too long, no messages deleted", "nothing marked is deleted", "no se borra nada"},
		{"pop3", S, "-ERR unknown command STLS", "-ERR: negative answer", "-ERR: respuesta negativa"},
		{"pop3", S, "-ERR no such message", "-ERR", "-ERR"},
		{"pop3", C, "STLS", "TLS", "TLS"},
		{"pop3", C, "HELO", "", ""},

		// IMAP: imapserver doc comments and tests, imapclient tests.
		{"imap", S, "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS MOVE NAMESPACE ENABLE ID UNSELECT AUTH=PLAIN] maillab IMAP4rev1 ready", "greeting", "saludo"},
		{"imap", C, "a1 CAPABILITY", "tag", "etiqueta"},
		{"imap", S, "* CAPABILITY IMAP4rev1 AUTH=PLAIN", "CAPABILITY data", "Datos CAPABILITY"},
		{"imap", S, "a001 OK CAPABILITY completed", "Tagged OK", "OK etiquetado"},
		{"imap", C, "a3 LOGIN bob secret", "LOGIN gives a user name and password", "LOGIN da un nombre de usuario y una contraseña"},
		{"imap", C, "a1 LOGIN ***", "LOGIN", "LOGIN"},
		{"imap", S, "a5 OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS MOVE NAMESPACE ENABLE ID UNSELECT AUTH=PLAIN] Logged in", "[CAPABILITY]", "[CAPABILITY]"},
		{"imap", S, "a1 NO [AUTHENTICATIONFAILED] Invalid user name or password", "[AUTHENTICATIONFAILED]", "[AUTHENTICATIONFAILED]"},
		{"imap", C, "a2 AUTHENTICATE PLAIN", "SASL", "SASL"},
		{"imap", S, "+ ", "during AUTHENTICATE", "durante AUTHENTICATE"},
		{"imap", C, "AGFsaWNlAHNlY3JldA==", "", ""},
		{"imap", C, "*", "cancels the AUTHENTICATE", "cancela el intercambio AUTHENTICATE"},
		{"imap", S, "a2 BAD Authentication cancelled", "Tagged BAD", "BAD etiquetado"},
		{"imap", C, "a1 SELECT INBOX", "SELECT opens a mailbox (folder)", "SELECT abre un buzón (carpeta)"},
		{"imap", S, `* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)`, "FLAGS data", "Datos FLAGS"},
		{"imap", S, "* 3 EXISTS", "n EXISTS", "n EXISTS"},
		{"imap", S, "* 1 RECENT", "n RECENT", "n RECENT"},
		{"imap", S, "* OK [UNSEEN 2] Message 2 is the first unseen", "[UNSEEN]", "[UNSEEN]"},
		{"imap", S, `* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags you can change`, "[PERMANENTFLAGS]", "[PERMANENTFLAGS]"},
		{"imap", S, "* OK [UIDNEXT 4] Predicted next UID", "[UIDNEXT]", "[UIDNEXT]"},
		{"imap", S, "* OK [UIDVALIDITY 1714000000] UIDs valid", "[UIDVALIDITY]", "[UIDVALIDITY]"},
		{"imap", S, "a1 OK [READ-WRITE] SELECT completed", "[READ-WRITE]", "[READ-WRITE]"},
		{"imap", C, "a1 EXAMINE INBOX", "read-only", "solo para lectura"},
		{"imap", S, "a1 OK [READ-ONLY] EXAMINE completed", "[READ-ONLY]", "[READ-ONLY]"},
		{"imap", C, "a7 CREATE Archive/2024", "CREATE makes a new mailbox", "CREATE crea un buzón"},
		{"imap", C, "a8 DELETE Archive/2024", "DELETE removes a mailbox", "DELETE elimina un buzón"},
		{"imap", C, "a9 RENAME Drafts Old-Drafts", "RENAME", "RENAME"},
		{"imap", C, "b1 SUBSCRIBE Archive", "subscriptions", "suscripciones"},
		{"imap", C, "b2 UNSUBSCRIBE Archive", "subscriptions", "suscripciones"},
		{"imap", C, `b3 LIST "" *`, "LIST asks for the mailboxes", "LIST pide los buzones"},
		{"imap", S, `* LIST () "/" INBOX`, "LIST data", "Datos LIST"},
		{"imap", S, `* LIST (\Noselect) "/" Archive`, "LIST data", "Datos LIST"},
		{"imap", C, `a002 LSUB "" *`, "subscribed", "suscritos"},
		{"imap", S, `* LSUB () "/" Archive`, "LSUB data", "Datos LSUB"},
		{"imap", C, "b4 STATUS INBOX (MESSAGES UNSEEN)", "without selecting it", "sin seleccionarlo"},
		{"imap", S, "* STATUS INBOX (MESSAGES 3 UNSEEN 1)", "STATUS data", "Datos STATUS"},
		{"imap", C, `b5 APPEND Drafts (\Draft) "01-Feb-1994 10:00:00 +0000" {310}`, `\Draft: the message is an unfinished draft`, `\Draft: el mensaje es un borrador`},
		{"imap", C, "a001 APPEND INBOX {22+}", "LITERAL+", "LITERAL+"},
		{"imap", S, "+ Ready for literal data", "before a literal", "antes de un literal"},
		{"imap", S, "b5 OK [APPENDUID 1 7] APPEND completed", "[APPENDUID]", "[APPENDUID]"},
		{"imap", C, "b6 NAMESPACE", "NAMESPACE", "NAMESPACE"},
		{"imap", S, `* NAMESPACE (("" "/")) NIL NIL`, "NAMESPACE data", "Datos NAMESPACE"},
		{"imap", C, "a9 ENABLE CONDSTORE", "ENABLE turns on", "ENABLE activa"},
		{"imap", S, "* ENABLED", "ENABLED data", "Datos ENABLED"},
		{"imap", C, `a4 ID ("name" "mutt")`, "ID exchanges", "ID intercambia"},
		{"imap", S, `* ID ("name" "maillab" "vendor" "maillab")`, "ID data", "Datos ID"},
		{"imap", C, "a2 CHECK", "CHECK", "CHECK"},
		{"imap", C, "a3 CLOSE", "silently expunges", "elimina en silencio"},
		{"imap", C, "a6 UNSELECT", "without expunging", "sin eliminar nada"},
		{"imap", C, "a5 EXPUNGE", `\Deleted`, `\Deleted`},
		{"imap", S, "* 3 EXPUNGE", "message n was removed, by this session or another; numbers above it shift down by one", "los números por encima bajan en uno"},
		{"imap", C, `a2 SEARCH UNSEEN FROM "alice"`, "SEARCH asks", "SEARCH pide"},
		{"imap", S, "* SEARCH 2 5", "SEARCH data", "Datos SEARCH"},
		{"imap", S, "* SEARCH", "SEARCH data", "Datos SEARCH"},
		{"imap", C, "a1 FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])", "BODY.PEEK[...] does not", "BODY.PEEK[...] no"},
		{"imap", S, `* 1 FETCH (FLAGS (\Seen) BODY[HEADER.FIELDS (SUBJECT)] {16}`, `n FETCH: data about message n`, `\Seen: el mensaje se ha leído`},
		{"imap", C, `a6 STORE 2 +FLAGS (\Deleted)`, `\Deleted: the message is marked for removal`, `\Deleted: el mensaje está marcado para eliminar`},
		{"imap", S, `* 2 FETCH (FLAGS (\Deleted \Seen))`, "read on another device", "se leyó en otro dispositivo"},
		{"imap", S, `* 3 FETCH (UID 9 FLAGS (\Seen))`, `\Seen: the message has been read`, "las marcas están en el servidor"},
		{"imap", S, `* 1 FETCH (UID 7 FLAGS (\Seen $Forwarded) INTERNALDATE "01-Feb-1994 10:00:00 +0000")`, `\Seen`, `\Seen`},
		{"imap", S, `* 1 FETCH (FLAGS (\Seen \Recent) INTERNALDATE "01-Feb-1994 10:00:00 +0000")`, `\Recent`, `\Recent`},
		{"imap", S, "* 1 FETCH (UID 4)", "n FETCH", "n FETCH"},
		{"imap", C, "a7 COPY 1:2 Archive", "COPY copies", "COPY copia"},
		{"imap", S, "a7 OK [COPYUID 1714000001 1:2 5:6] COPY completed", "[COPYUID]", "[COPYUID]"},
		{"imap", C, "a8 MOVE 2 Trash", "MOVE moves", "MOVE mueve"},
		{"imap", S, "* OK [COPYUID 1714000002 2 9] Moved", "[COPYUID]", "[COPYUID]"},
		{"imap", S, "a3 NO [TRYCREATE] No such mailbox Nowhere", "[TRYCREATE]", "[TRYCREATE]"},
		{"imap", C, "a002 UID FETCH 7 BODY[]<0>", "UID FETCH", "UID FETCH"},
		{"imap", C, "a002 UID SEARCH DELETED", "UID SEARCH", "UID SEARCH"},
		{"imap", C, `a002 UID STORE 42 +FLAGS.SILENT (\Deleted)`, `\Deleted`, `\Deleted`},
		{"imap", C, `a002 UID STORE 7 -FLAGS.SILENT (\Seen $Junk)`, `\Seen`, `\Seen`},
		{"imap", C, "a001 UID COPY 42 Archive", "UID COPY", "UID COPY"},
		{"imap", C, "a002 UID MOVE 42 Archive", "UID MOVE", "UID MOVE"},
		{"imap", C, "a003 UID EXPUNGE 42", "UID EXPUNGE", "UID EXPUNGE"},
		{"imap", C, "a1 IDLE", "DONE", "DONE"},
		{"imap", S, "+ idling", "changes made from another device", "cambios hechos desde otro dispositivo"},
		{"imap", S, "* 4 EXISTS", "new mail", "correo nuevo"},
		{"imap", C, "DONE", "ends IDLE", "termina IDLE"},
		{"imap", S, "a1 OK IDLE completed", "Tagged OK", "OK etiquetado"},
		{"imap", C, "a3 LOGOUT", "BYE", "BYE"},
		{"imap", S, "* BYE Logging out", "closing the connection", "cierra la conexión"},
		{"imap", S, "* BYE Autologout; idle for too long", "BYE", "BYE"},
		{"imap", S, "* PREAUTH IMAP4rev1 server logged in as Smith", "already authenticated", "ya está autenticada"},
		{"imap", S, "* BAD Expected a tag", "Untagged BAD", "BAD sin etiqueta"},
		{"imap", S, "* BYE [TOOBIG] Literal of 101 octets is too big (the limit is 100); closing", "[TOOBIG]", "[TOOBIG]"},
		{"imap", S, "a1 NO [TOOBIG] Literal of 101 octets is too big (the limit is 100)", "[TOOBIG]", "[TOOBIG]"},
		{"imap", S, "a3 NO [CANNOT] INBOX cannot be deleted", "[CANNOT]", "[CANNOT]"},
		{"imap", S, "a5 NO [ALREADYEXISTS] Mailbox already exists", "[ALREADYEXISTS]", "[ALREADYEXISTS]"},
		{"imap", S, "a3 NO [NONEXISTENT] No such mailbox", "[NONEXISTENT]", "[NONEXISTENT]"},
		{"imap", S, "a2 NO [EXPUNGEISSUED] Some of the requested messages no longer exist", "[EXPUNGEISSUED]", "[EXPUNGEISSUED]"},
		{"imap", S, "a1 NO [SERVERBUG] Internal error, try again later", "[SERVERBUG]", "[SERVERBUG]"},
		{"imap", S, "* OK [ALERT] Mailbox is almost full", "[ALERT]", "[ALERT]"},
		{"imap", S, "a1 BAD Unknown command", "Tagged BAD", "BAD etiquetado"},
		{"imap", S, "+ go on", "continuation request", "petición de continuación"},
		{"imap", S, ")", "", ""},
		{"imap", C, "a1 FROB", "", ""},
		{"imap", C, "alice secret", "", ""},
		{"imap", C, "Subject: hi", "", ""},
	} {
		for _, l := range []struct{ lang, want string }{{"en", tc.en}, {"es", tc.es}} {
			got := Explain(tc.proto, tc.dir, tc.line, l.lang)
			switch {
			case l.want == "" && got != "":
				t.Errorf("%s: Explain(%s, %v, %q) = %q, want \"\"", l.lang, tc.proto, tc.dir, tc.line, got)
			case !strings.Contains(got, l.want):
				t.Errorf("%s: Explain(%s, %v, %q) = %q, want it to contain %q", l.lang, tc.proto, tc.dir, tc.line, got, l.want)
			case got != "" && !strings.Contains(got, "(RFC "):
				t.Errorf("%s: Explain(%s, %v, %q) = %q cites no RFC", l.lang, tc.proto, tc.dir, tc.line, got)
			}
		}
	}
}

// Credentials are explained, never echoed: the explanation of a PASS,
// LOGIN or AUTH line does not contain the password or the SASL response,
// whether the renderer masked the line or not.
func TestCredentialsNeverEchoed(t *testing.T) {
	C := wire.ClientToServer
	for _, tc := range []struct {
		proto, line string
		secrets     []string
	}{
		{"pop3", "PASS secret", []string{"secret"}},
		{"pop3", "PASS correct horse battery", []string{"correct", "horse", "battery"}},
		{"pop3", "PASS hunter2", []string{"hunter2"}},
		{"pop3", "PASS wrong", []string{"wrong"}},
		{"pop3", "pass Señal-42", []string{"señal-42"}},
		{"pop3", "AUTH PLAIN AGJvYgBzZWNyZXQ=", []string{"AGJvYgBzZWNyZXQ="}},
		{"imap", "a3 LOGIN bob secret", []string{"secret", "bob"}},
		{"imap", "a1 LOGIN bob wrong", []string{"wrong", "bob"}},
		{"imap", `a001 LOGIN alice "correct horse"`, []string{"correct", "horse", "alice"}},
		{"imap", "a001 AUTHENTICATE PLAIN AGFsaWNlAHdyb25n", []string{"AGFsaWNlAHdyb25n"}},
	} {
		for _, lang := range Langs {
			got := Explain(tc.proto, C, tc.line, lang)
			if got == "" {
				t.Errorf("%s: Explain(%s, %q) = \"\", want the command explained", lang, tc.proto, tc.line)
			}
			for _, sec := range tc.secrets {
				if strings.Contains(strings.ToLower(got), strings.ToLower(sec)) {
					t.Errorf("%s: Explain(%s, %q) = %q contains %q", lang, tc.proto, tc.line, got, sec)
				}
			}
		}
	}
}

func TestTLSLinesExplainedInEveryLanguage(t *testing.T) {
	for _, lang := range Langs {
		for _, tc := range []struct {
			dir  wire.Direction
			line string
		}{
			{0, "TLS 1.3 handshake done: cipher TLS_AES_128_GCM_SHA256, server certificate CN=mx.a.example (issued by maillab lab CA 5f3a9c01), verified by the client"},
			{wire.ClientToServer, "TLS record: handshake, 512 bytes"},
			{wire.ServerToClient, "TLS record: application data, 41 bytes"},
			{wire.ServerToClient, "TLS record: change cipher spec, 1 bytes"},
			{wire.ClientToServer, "TLS record: alert, 19 bytes"},
			{wire.ServerToClient, `not a TLS record (starts 32 32 30 20 6d, "220 m"): the rest of this direction is not recorded`},
		} {
			if Explain("tls", tc.dir, tc.line, lang) == "" {
				t.Errorf("%s: no explanation for %q", lang, tc.line)
			}
		}
		if x := Explain("tls", wire.ClientToServer, "TLS record: type 99, 1 bytes", lang); x != "" {
			t.Errorf("%s: unknown record type explained: %q", lang, x)
		}
	}
}
