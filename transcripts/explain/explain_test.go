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
	add := func(kind string, m map[string]string) {
		for k := range m {
			out = append(out, kind+" "+k)
		}
	}
	add("commands", s.Commands)
	add("params", s.Params)
	add("replies", s.Replies)
	add("enhanced", s.Enhanced)
	add("keywords", s.Keywords)
	add("classes", s.Classes)
	add("subjects", s.Subjects)
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
			for _, m := range []map[string]string{s.Commands, s.Params, s.Replies, s.Enhanced, s.Keywords, s.Classes, s.Subjects} {
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
		{"pop3", C, "QUIT", "en", nil},
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
	f.Fuzz(func(t *testing.T, line string) {
		for _, d := range []wire.Direction{wire.ClientToServer, wire.ServerToClient} {
			if got := Explain("smtp", d, line, "es"); got != "" && !strings.Contains(got, "RFC") {
				t.Errorf("explanation without a citation: %q", got)
			}
		}
	})
}
