package relaytest

import "strings"

// Params are what the probes' addresses are made of.
type Params struct {
	// Domain is the tested server's own domain ("srv" in FACTS 1.13): the
	// name in its greeting, its EHLO reply, or --domain.
	Domain string
	// Literal is the server's address literal, "[192.0.2.10]" or
	// "[IPv6:2001:db8::10]" (RFC 5321 section 4.1.3).
	Literal string
	// ToDomain is the foreign domain the probes try to reach ("D").
	ToDomain string
	// From is the tester's own sender address, local@domain. Its local
	// part is also forged into the server's domain and literal.
	From string
	// Rcpt is the local part of the foreign recipient; "" means
	// DefaultRcptLocal.
	Rcpt string
}

// DefaultRcptLocal is the local part of the foreign recipient, as in the
// Nmap and Metasploit batteries.
const DefaultRcptLocal = "relaytest"

// Probe is one open-relay trick: a MAIL FROM and a RCPT TO, written exactly
// as they go on the wire, and what the trick tries to fool.
type Probe struct {
	Number int    `json:"number"` // 1 to 16, the order of the Nmap battery
	Name   string `json:"name"`   // short and stable, e.g. "percent-host"
	// MailFrom and RcptTo are the paths as sent, brackets included:
	// "MAIL FROM:" + MailFrom, "RCPT TO:" + RcptTo.
	MailFrom string `json:"mail_from"`
	RcptTo   string `json:"rcpt_to"`
	// Explanation says in one sentence, in English, what the probe tries;
	// Explain gives it in Spanish too.
	Explanation string `json:"explanation"`

	es string
}

// Explain returns the explanation in lang: "es" for Spanish, anything else
// for English.
func (p Probe) Explain(lang string) string {
	if lang == "es" && p.es != "" {
		return p.es
	}
	return p.Explanation
}

// trick is one row of the battery before the addresses are filled in. In
// from and to, S is the sender's local part, F the whole sender address,
// R the recipient's local part, D the foreign domain, H the server's
// domain and L its address literal.
type trick struct {
	name, from, to, en, es string
}

// tricks is the classic 16-probe battery of Nmap's smtp-open-relay.nse,
// which Metasploit's smtp_relay (EXTENDED=true) mirrors; FACTS.md 1.13.
// RFC 2505 (BCP 30) asks MTAs to refuse unauthorised relaying and to see
// through these address forms.
var tricks = []trick{
	{"null-sender", "<>", "<R@D>",
		"The null sender <> is meant for bounces only: a server that passes a \"bounce\" from anyone to a foreign domain lets spam travel disguised as bounces.",
		"El remitente vacío <> es solo para rebotes: un servidor que pasa a un dominio ajeno un \"rebote\" de cualquiera deja viajar spam disfrazado de rebote."},
	{"third-party", "<F>", "<R@D>",
		"The plainest relay attempt: a stranger's sender and a foreign recipient; only an open relay accepts both.",
		"El intento más simple: remitente desconocido y destinatario ajeno; solo un relay abierto acepta los dos."},
	{"forged-local-sender", "<S@H>", "<R@D>",
		"The sender is forged in the server's own domain, to fool a server that relays for its \"own\" senders without checking who is really connected.",
		"El remitente se falsifica en el propio dominio del servidor, para engañar a uno que reenvía para sus \"propios\" remitentes sin comprobar quién está conectado de verdad."},
	{"literal-sender", "<S@L>", "<R@D>",
		"The sender is forged at the server's own address literal, to fool a server that trusts senders \"at\" its own IP address.",
		"El remitente se falsifica con el literal de dirección del propio servidor, para engañar a uno que confía en remitentes \"de\" su propia IP."},
	{"percent-literal", "<S@L>", "<R%D@L>",
		"The percent hack: the address looks local (it ends in the server's literal), and a server that rewrites user%other@itself into user@other then relays it to the foreign domain.",
		"El truco del porcentaje: la dirección parece local (termina en el literal del servidor) y un servidor que reescribe usuario%otro@él-mismo como usuario@otro la reenvía al dominio ajeno."},
	{"percent-host", "<S@L>", "<R%D@H>",
		"The percent hack with the server's host name: the text after '@' is the server's own domain, the foreign domain hides behind '%' in the local part.",
		"El truco del porcentaje con el nombre del servidor: tras la '@' está su propio dominio, y el dominio ajeno se esconde tras el '%' de la parte local."},
	{"quoted-at", "<S@L>", "<\"R@D\">",
		"A quoted local part holding a whole foreign address and no domain of its own: a server that strips the quotes and parses again finds the foreign domain inside.",
		"Una parte local entre comillas que contiene una dirección ajena entera y ningún dominio propio: un servidor que quita las comillas y vuelve a analizarla encuentra dentro el dominio ajeno."},
	{"quoted-percent", "<S@L>", "<\"R%D\">",
		"A quoted percent hack with no domain at all: a server that removes the quotes and then honours '%' relays it to the foreign domain.",
		"El truco del porcentaje entre comillas y sin dominio: un servidor que quita las comillas y luego hace caso del '%' lo reenvía al dominio ajeno."},
	{"double-at-literal", "<S@L>", "<R@D@L>",
		"Two '@' signs: a check that reads the domain after the last '@' sees the server's own literal, while routing that splits at the first '@' goes to the foreign domain.",
		"Dos '@': una comprobación que lee el dominio tras la última '@' ve el literal del propio servidor, mientras que el encaminamiento que corta en la primera '@' va al dominio ajeno."},
	{"quoted-at-literal", "<S@L>", "<\"R@D\"@L>",
		"A foreign address in quotes followed by the server's own literal: the domain check passes, and a server that dequotes the local part forwards to the address inside.",
		"Una dirección ajena entre comillas seguida del literal del propio servidor: la comprobación del dominio pasa, y un servidor que quita las comillas reenvía a la dirección de dentro."},
	{"double-at-host", "<S@L>", "<R@D@H>",
		"Two '@' signs, the last one before the server's host name: the same confusion between the first and the last '@' as the literal version.",
		"Dos '@', la última ante el nombre del propio servidor: la misma confusión entre la primera y la última '@' que la versión con literal."},
	{"source-route-literal", "<S@L>", "<@L:R@D>",
		"An RFC 821 source route through the server's literal: the route names the server, the mailbox is foreign; RFC 5321 (section 3.6.1, appendix C) says to ignore the route and deliver to the mailbox, so a server that judges the route instead relays.",
		"Una ruta de origen de RFC 821 a través del literal del servidor: la ruta nombra al servidor y el buzón es ajeno; RFC 5321 (sección 3.6.1, apéndice C) manda ignorar la ruta y entregar al buzón, así que un servidor que juzga la ruta en su lugar reenvía."},
	{"source-route-host", "<S@L>", "<@H:R@D>",
		"A source route through the server's host name: the first hop is the server itself, the final mailbox is in the foreign domain.",
		"Una ruta de origen a través del nombre del servidor: el primer salto es el propio servidor y el buzón final está en el dominio ajeno."},
	{"bang-path", "<S@L>", "<D!R>",
		"A UUCP bang path \"host!user\" with no '@': a server that rewrites bang paths into user@host (Postfix swap_bangpath) relays it to the foreign domain.",
		"Una ruta UUCP \"máquina!usuario\" sin '@': un servidor que reescribe estas rutas como usuario@máquina (swap_bangpath de Postfix) la reenvía al dominio ajeno."},
	{"bang-path-literal", "<S@L>", "<D!R@L>",
		"A bang path in front of the server's literal: the domain looks local, and the local part routes on to the foreign domain.",
		"Una ruta UUCP delante del literal del servidor: el dominio parece local, y la parte local sigue camino hacia el dominio ajeno."},
	{"bang-path-host", "<S@L>", "<D!R@H>",
		"A bang path in front of the server's host name: the domain is the server's own, the local part names the foreign domain.",
		"Una ruta UUCP delante del nombre del servidor: el dominio es el suyo, la parte local nombra el dominio ajeno."},
}

// Names returns the names of the sixteen probes, in battery order.
func Names() []string {
	names := make([]string, len(tricks))
	for i, t := range tricks {
		names[i] = t.name
	}
	return names
}

// Battery returns the sixteen probes with their addresses filled in from p.
func Battery(p Params) []Probe {
	rcpt := p.Rcpt
	if rcpt == "" {
		rcpt = DefaultRcptLocal
	}
	local := p.From
	if i := strings.LastIndexByte(local, '@'); i >= 0 {
		local = local[:i]
	}
	fill := strings.NewReplacer("S", local, "F", p.From, "R", rcpt, "D", p.ToDomain, "H", p.Domain, "L", p.Literal)
	probes := make([]Probe, len(tricks))
	for i, t := range tricks {
		probes[i] = Probe{
			Number:      i + 1,
			Name:        t.name,
			MailFrom:    fill.Replace(t.from),
			RcptTo:      fill.Replace(t.to),
			Explanation: t.en,
			es:          t.es,
		}
	}
	return probes
}
