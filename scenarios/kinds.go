package scenarios

import (
	"context"
	"sort"
	"strings"
)

// kind is a row of the agent kind table: what a scenario may say about an
// agent of that kind, what it listens on, and how to start it. Later kinds
// (open-relay, smarthost, dns, lda) are new rows.
type kind struct {
	doc string
	// listeners are the sockets the agent opens, in the order PortBase
	// numbers them ("smtp"; "lmtp", "pop3", "imap").
	listeners []string
	// tlsListeners are opened besides, after them, when the agent has
	// tls: true ("submission", "submissions"; "pop3s", "imaps").
	tlsListeners []string
	// keys are the agent keys this kind uses besides name, kind, hostname
	// and listen.
	keys []string
	// serves is true for kinds whose domains hold the lab's users.
	serves bool
	// check validates the kind's own fields (after the generic checks).
	check func(v *validator, a *Agent)
	// deps names the agents that must be started first.
	deps func(a *Agent) []string
	// start builds the agent from its stanza and what is already running,
	// then starts it.
	start func(ctx context.Context, l *Lab, a *Agent) (labAgent, error)
}

// labAgent is what the runner needs from every agent.
type labAgent interface {
	Name() string
	Kind() string
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Endpoints() map[string]string
}

var kinds map[string]kind

func init() {
	kinds = map[string]kind{
		"mta": {
			doc:          "a mail transfer agent: takes mail over SMTP for its domains and hands it to its MDA over LMTP; with a dns agent in the lab it also delivers to other domains' MTAs (MX lookup, queue, retries, bounces) for its trusted clients and authenticated users",
			listeners:    []string{"smtp"},
			tlsListeners: []string{"submission", "submissions"},
			keys:         append([]string{"domains", "deliver_to", "tls", "plaintext_auth"}, relayKeys...),
			serves:       true,
			check:        checkMTA,
			deps:         relayDeps,
			start:        startMTA,
		},
		"open-relay": {
			doc:          "an MTA that relays mail for anyone, as spammers hope to find: the transcript labels each message it relays for a stranger",
			listeners:    []string{"smtp"},
			tlsListeners: []string{"submission", "submissions"},
			keys:         append([]string{"domains", "deliver_to", "tls", "plaintext_auth"}, relayKeys...),
			serves:       true,
			check:        checkRelay,
			deps:         relayDeps,
			start:        startMTA,
		},
		"smarthost": {
			doc:          "a provider's outgoing MTA: relays only for the client hosts and users it lists (relay_for, relay_users) and refuses everyone else",
			listeners:    []string{"smtp"},
			tlsListeners: []string{"submission", "submissions"},
			keys:         append([]string{"domains", "deliver_to", "relay_users", "tls", "plaintext_auth"}, relayKeys...),
			serves:       true,
			check:        checkRelay,
			deps:         relayDeps,
			start:        startMTA,
		},
		"dns": {
			doc:       "an authoritative DNS server for the lab's domains, over UDP and TCP: MX and A records for every MTA (made by the lab), plus the records listed; MTAs find each other through it",
			listeners: []string{"dns"},
			keys:      []string{"records", "implicit_mx"},
			check:     checkDNS,
			start:     startDNS,
		},
		"mda": {
			doc:          "a mail delivery agent: takes mail over LMTP, stores it in the users' Maildirs and serves them over POP3 and IMAP",
			listeners:    []string{"lmtp", "pop3", "imap"},
			tlsListeners: []string{"pop3s", "imaps"},
			keys:         []string{"domains", "max_connections", "tls", "plaintext_auth", "aliases"},
			serves:       true,
			check:        checkMDA,
			start:        startMDA,
		},
		"sink": {
			doc:       "an SMTP server that accepts every message and stores none, like Postfix's smtp-sink: for measuring, and to show that 250 only means accepted",
			listeners: []string{"smtp"},
			keys:      []string{"domains", "max_message_size"},
			serves:    true,
			start:     startSink,
		},
		"mua": {
			doc:   "a user's mail program, one per device: submits messages to an MTA over SMTP and reads the user's mail from an MDA over POP3 or IMAP",
			keys:  []string{"user"},
			check: checkMUA,
			start: startMUA,
		},
	}
}

// KindInfo describes an agent kind, for help texts.
type KindInfo struct {
	Name      string
	Doc       string
	Listeners []string
}

// Kinds lists the agent kinds a scenario may use, by name.
func Kinds() []KindInfo {
	var out []KindInfo
	for name, k := range kinds {
		out = append(out, KindInfo{Name: name, Doc: k.doc, Listeners: append(append([]string(nil), k.listeners...), k.tlsListeners...)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func kindNames() []string {
	var names []string
	for name := range kinds {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func checkMTA(v *validator, a *Agent) {
	if len(a.Domains) == 0 {
		v.errorAt(a.Pos, "mta %s: domains is missing (the domains it takes mail for)", a.Name)
	}
	checkRelayKeys(v, a)
	checkDeliverTo(v, a)
}

func checkDeliverTo(v *validator, a *Agent) {
	if a.DeliverTo == "" {
		v.errorAt(a.Pos, "mta %s: deliver_to is missing (the mda that stores its domains' mail)", a.Name)
		return
	}
	p := a.at.of("deliver_to", a.Pos)
	mda, ok := v.agents[a.DeliverTo]
	if !ok {
		v.errorAt(p, "deliver_to: no agent is called %q", a.DeliverTo)
		return
	}
	if _, known := kinds[mda.Kind]; !known {
		return // reported on mda itself
	}
	if mda.Kind != "mda" {
		v.errorAt(p, "deliver_to: %s is an %s, not an mda", a.DeliverTo, mda.Kind)
		return
	}
	for _, dom := range a.Domains {
		if !containsFold(mda.Domains, dom) {
			v.errorAt(p, "deliver_to: mda %s does not serve %s (add it to its domains)", mda.Name, dom)
		}
	}
}

func checkMDA(v *validator, a *Agent) {
	if len(a.Domains) == 0 {
		v.errorAt(a.Pos, "mda %s: domains is missing (the domains whose mailboxes it keeps)", a.Name)
		return
	}
	p := a.at.of("aliases", a.Pos)
	aliases := a.aliasTable()
	for alias, targets := range aliases {
		if err := checkAddress(alias); err != nil {
			v.errorAt(p, "aliases: %v", err)
			continue
		}
		if !containsFold(a.Domains, domainOf(alias)) {
			v.errorAt(p, "aliases: %s is not in the domains of %s", alias, a.Name)
		}
		if _, isUser := v.users[alias]; isUser {
			v.errorAt(p, "aliases: %s is a user already", alias)
		}
		for _, t := range targets {
			if err := checkAddress(t); err != nil {
				v.errorAt(p, "aliases: %s: %v", alias, err)
				continue
			}
			_, isUser := v.users[t]
			_, isAlias := aliases[t]
			if containsFold(a.Domains, domainOf(t)) && !isUser && !isAlias {
				v.errorAt(p, "aliases: %s stands for %s, who is neither a user nor an alias", alias, t)
			}
		}
	}
	if p, has := a.at["max_connections"]; has && a.MaxConnections < 1 {
		v.errorAt(p, "max_connections: must be at least 1 (leave it out for the default, 100)")
	}
}

func checkMUA(v *validator, a *Agent) {
	if a.User == "" {
		v.errorAt(a.Pos, "mua %s: user is missing (the address it sends as)", a.Name)
		return
	}
	v.knownUser(a.at.of("user", a.Pos), "user", a.User)
}

// listeners are the sockets a agent opens: its kind's, and with tls: true
// the TLS ones.
func (a *Agent) listeners() []string {
	k := kinds[a.Kind]
	if !a.TLS {
		return k.listeners
	}
	return append(append([]string(nil), k.listeners...), k.tlsListeners...)
}

// aliasTable returns an mda's aliases with full lower-case addresses: a
// bare local part is in the MDA's first domain.
func (a *Agent) aliasTable() map[string][]string {
	if len(a.Aliases) == 0 || len(a.Domains) == 0 {
		return nil
	}
	full := func(s string) string {
		if !strings.Contains(s, "@") {
			s += "@" + a.Domains[0]
		}
		return strings.ToLower(s)
	}
	out := map[string][]string{}
	for k, targets := range a.Aliases {
		var ts []string
		for _, t := range targets {
			ts = append(ts, full(t))
		}
		out[full(k)] = ts
	}
	return out
}
