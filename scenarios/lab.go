package scenarios

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/maillab/maillab/agents/labca"
	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/agents/mda"
	"github.com/maillab/maillab/agents/mua"
	"github.com/maillab/maillab/agents/sink"
	"github.com/maillab/maillab/protocols/imap/imapserver"
	"github.com/maillab/maillab/protocols/pop3/pop3server"
	"github.com/maillab/maillab/transcripts"
)

// Options tune how a lab runs. The zero value runs on ephemeral loopback
// ports, in a temporary directory, with a Recorder of its own.
type Options struct {
	// Dir is the lab's state root: the Maildirs go under Dir/maildir. When
	// "" a temporary directory is made, and Stop removes it.
	Dir string
	// Recorder receives the transcript; nil makes one (see Lab.Recorder).
	Recorder *transcripts.Recorder
	// PortBase 0 gives every listener an ephemeral port. N > 0 gives stable
	// ports: the k-th listener of the scenario (agents in declaration
	// order, each kind's listeners in their order) gets N+k, counting from
	// 0. An agent's own listen: address wins over both.
	PortBase int
	// Host is the address listeners bind; "" means 127.0.0.1.
	Host string
	// BeforeCommand is called by MUAs before each command line they send
	// (step mode); an error aborts the step and the run.
	BeforeCommand func(agent, proto, line string) error
	// Pause is called by pause steps with their text; an error aborts the
	// run. nil only notes the text.
	Pause func(text string) error
	// Repeatable makes a run render the same transcript every time, for
	// golden files: while an idle's while steps run, the news of IDLE
	// sessions is held until the steps have ended, so "* n EXISTS" comes
	// after the sender's QUIT rather than right after the MDA's LMTP 250
	// (where a live run shows it, as a real server sends it).
	Repeatable bool
	// Now is the clock of agents (Received dates, Maildir names); nil means
	// time.Now. Tests inject a fixed clock so a run renders the same twice.
	Now func() time.Time
	// WellKnownPorts makes a lab with a dns agent listen on the protocols'
	// own ports (25, 24, 110, 143, 53), each host on its own address. Only
	// root may bind them; the CLI sets it for root when no port base is
	// given. Tests never do: their labs would collide.
	WellKnownPorts bool
	// IDs, when set, makes the queue and delivery ids of the agents: it is
	// called with the agent's name for each new id. nil leaves the agents
	// their random ids. See SequentialIDs.
	IDs func(agent string) string
}

// SequentialIDs returns an IDs function that numbers each agent's ids
// from 1 ("A0001", "A0002" for the first agent that asks, "B0001" for the
// second...), so that a run renders the same twice. It is safe
// for concurrent use.
func SequentialIDs() func(agent string) string {
	var mu sync.Mutex
	prefix := map[string]int{}
	count := map[string]int{}
	return func(agent string) string {
		mu.Lock()
		defer mu.Unlock()
		p, ok := prefix[agent]
		if !ok {
			p = len(prefix)
			prefix[agent] = p
		}
		count[agent]++
		return fmt.Sprintf("%c%04d", 'A'+rune(p%26), count[agent]%10000)
	}
}

func (l *Lab) ids(agent string) func() string {
	if l.opts.IDs == nil {
		return nil
	}
	ids := l.opts.IDs
	return func() string { return ids(agent) }
}

// RunnerAgent is the name notes of the scenario runner carry.
const RunnerAgent = "scenario"

// Lab is a running scenario: its agents, listening, and its mail store.
type Lab struct {
	sc    *Scenario
	opts  Options
	rec   *transcripts.Recorder
	dir   string
	temp  bool // dir was made by Start; Stop removes it
	store *mailbox.Store
	// addrs are the listen addresses planned for each agent's listeners.
	addrs map[string]map[string]string
	// net is where each host lives (with a dns agent: its own address).
	net *network
	// ca is the lab's certificate authority, when an agent has tls: true.
	ca *labca.CA

	conns       *connTracker
	unsubscribe func()

	mu       sync.Mutex
	running  map[string]labAgent
	started  []labAgent // in start order
	muas     map[string]*mua.MUA
	sessions []*deviceSession // IMAP sessions open, in order of opening
	stopped  bool

	// gateMu guards the gate that holds queue deliveries back outside
	// wait steps, in a Repeatable run (see Lab.gate).
	gateMu   sync.Mutex
	gateHeld bool
	gateOpen chan struct{}
	// token is held by the one delivery attempt under way, in a
	// Repeatable run.
	token chan struct{}

	// wakeMu guards the wake-ups of IDLE sessions held while an idle's
	// while steps run (see mailbox.Options.Wake).
	wakeMu  sync.Mutex
	holding bool
	held    []func()
}

// deviceSession is the IMAP session of a device with an MDA: it stays
// open across steps, like a phone's, until the lab stops.
type deviceSession struct {
	device, via string
	s           *mua.IMAPSession
}

// wake is the store's Options.Wake: IDLE sessions are woken at once,
// except while an idle's while steps run, when the lab holds their news
// until the steps have ended, so that the transcript renders the same
// twice.
func (l *Lab) wake(fire func()) {
	l.wakeMu.Lock()
	if l.holding {
		l.held = append(l.held, fire)
		l.wakeMu.Unlock()
		return
	}
	l.wakeMu.Unlock()
	fire()
}

// holdWakes starts holding wake-ups; the function returned lets them go.
func (l *Lab) holdWakes() (release func()) {
	l.wakeMu.Lock()
	l.holding = true
	l.wakeMu.Unlock()
	return func() {
		l.wakeMu.Lock()
		held := l.held
		l.held, l.holding = nil, false
		l.wakeMu.Unlock()
		for _, fire := range held {
			fire()
		}
	}
}

// Start builds the scenario's agents and starts them in dependency order
// (an MDA before the MTA that delivers to it). When one fails to start, the
// ones already started are stopped in reverse order and the error returned.
func Start(ctx context.Context, sc *Scenario, opts Options) (*Lab, error) {
	if sc == nil {
		return nil, errors.New("scenarios: Start: nil scenario")
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Lab{
		sc:      sc,
		opts:    opts,
		rec:     opts.Recorder,
		running: map[string]labAgent{},
		muas:    map[string]*mua.MUA{},
		token:   make(chan struct{}, 1),
		// Repeatable runs deliver from queues only in wait steps.
		gateHeld: opts.Repeatable,
		gateOpen: make(chan struct{}),
	}
	if l.rec == nil {
		l.rec = transcripts.NewRecorder(transcripts.Options{Now: opts.Now})
	}
	nw, err := planNetwork(sc)
	if err != nil {
		return nil, err
	}
	l.net = nw
	var addrs map[string]map[string]string
	if nw.on {
		addrs, err = planInternet(sc, opts, nw)
	} else {
		addrs, err = planListeners(sc, opts)
	}
	if err != nil {
		return nil, err
	}
	l.addrs = addrs
	order, err := startOrder(sc)
	if err != nil {
		return nil, err
	}
	if err := l.openStore(); err != nil {
		return nil, err
	}
	if err := l.openCA(); err != nil {
		return nil, l.abort(err)
	}
	l.conns = newConnTracker()
	l.unsubscribe = l.rec.Subscribe(l.conns.event)
	for _, a := range order {
		if err := ctx.Err(); err != nil {
			return nil, l.abort(fmt.Errorf("scenarios: starting %s: %w", sc.Name, err))
		}
		ag, err := kinds[a.Kind].start(ctx, l, a)
		if err != nil {
			return nil, l.abort(fmt.Errorf("scenarios: starting %s %s (%s): %w", a.Kind, a.Name, a.Pos, err))
		}
		l.mu.Lock()
		l.running[a.Name] = ag
		l.started = append(l.started, ag)
		l.mu.Unlock()
	}
	return l, nil
}

// abort stops what Start started and returns err (with any stop error).
func (l *Lab) abort(err error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := l.Stop(ctx); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

func (l *Lab) openStore() error {
	l.dir = l.opts.Dir
	if l.dir == "" {
		dir, err := os.MkdirTemp("", "maillab-"+safeName(l.sc.Name)+"-")
		if err != nil {
			return fmt.Errorf("scenarios: lab directory: %w", err)
		}
		l.dir, l.temp = dir, true
	}
	store, err := mailbox.OpenWith(filepath.Join(l.dir, "maildir"), mailbox.Options{Now: l.opts.Now, Wake: l.wake})
	if err != nil {
		if l.temp {
			os.RemoveAll(l.dir)
		}
		return fmt.Errorf("scenarios: opening the mail store: %w", err)
	}
	l.store = store
	return nil
}

// openCA opens (or makes) the lab's certificate authority in DIR/ca when
// an agent uses TLS. It uses the real clock, whatever Options.Now says:
// certificates are checked against the real time.
func (l *Lab) openCA() error {
	for _, a := range l.sc.Agents {
		if a.TLS {
			ca, err := labca.Open(filepath.Join(l.dir, "ca"), time.Now)
			if err != nil {
				return fmt.Errorf("scenarios: the lab CA: %w", err)
			}
			l.ca = ca
			return nil
		}
	}
	return nil
}

// serverTLS is the TLS configuration of agent a: a certificate from the
// lab CA for its host name and the address it listens on.
func (l *Lab) serverTLS(a *Agent, listener string) (*tls.Config, error) {
	var ips []netip.Addr
	if host, _, err := net.SplitHostPort(l.addrs[a.Name][listener]); err == nil {
		if ip, err := netip.ParseAddr(host); err == nil {
			ips = append(ips, ip)
		}
	}
	cfg, err := l.ca.ServerConfig(a.hostname(l.sc), ips...)
	if err != nil {
		return nil, fmt.Errorf("certificate for %s: %w", a.Name, err)
	}
	return cfg, nil
}

// clientTLS is the TLS configuration of a lab client: it trusts the lab
// CA. nil when the lab has none.
func (l *Lab) clientTLS() *tls.Config {
	if l.ca == nil {
		return nil
	}
	return l.ca.ClientConfig("")
}

func safeName(s string) string {
	if validName(s) {
		return s
	}
	return "lab"
}

// planListeners gives every listener of every agent its address.
func planListeners(sc *Scenario, opts Options) (map[string]map[string]string, error) {
	total := 0
	for _, a := range sc.Agents {
		total += len(a.listeners())
	}
	if opts.PortBase < 0 || opts.PortBase > 0 && opts.PortBase+total-1 > 65535 {
		return nil, fmt.Errorf("scenarios: port base %d: the %d listeners need ports up to 65535", opts.PortBase, total)
	}
	out := map[string]map[string]string{}
	k := 0
	for _, a := range sc.Agents {
		for _, name := range a.listeners() {
			port := 0
			if opts.PortBase > 0 {
				port = opts.PortBase + k
			}
			k++
			addr := net.JoinHostPort(opts.Host, strconv.Itoa(port))
			if fixed, ok := a.Listen[name]; ok {
				addr = fixed
			}
			if out[a.Name] == nil {
				out[a.Name] = map[string]string{}
			}
			out[a.Name][name] = addr
		}
	}
	return out, nil
}

// startOrder sorts the agents so that each comes after the ones it needs,
// otherwise keeping declaration order.
func startOrder(sc *Scenario) ([]*Agent, error) {
	byName := map[string]*Agent{}
	for i := range sc.Agents {
		byName[sc.Agents[i].Name] = &sc.Agents[i]
	}
	const (
		unseen = iota
		visiting
		done
	)
	state := map[string]int{}
	var order []*Agent
	var visit func(a *Agent) error
	visit = func(a *Agent) error {
		switch state[a.Name] {
		case visiting:
			return fmt.Errorf("scenarios: %s: agents depend on each other in a circle through %s", a.Pos, a.Name)
		case done:
			return nil
		}
		state[a.Name] = visiting
		k, ok := kinds[a.Kind]
		if !ok {
			return fmt.Errorf("scenarios: %s: unknown agent kind %q", a.Pos, a.Kind)
		}
		if k.deps != nil {
			for _, name := range k.deps(a) {
				dep, ok := byName[name]
				if !ok {
					return fmt.Errorf("scenarios: %s: %s needs %q, which is not an agent", a.Pos, a.Name, name)
				}
				if err := visit(dep); err != nil {
					return err
				}
			}
		}
		state[a.Name] = done
		order = append(order, a)
		return nil
	}
	for i := range sc.Agents {
		if err := visit(&sc.Agents[i]); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// endpoint returns where a running agent listens, e.g. ("mx.a.test", "smtp").
func (l *Lab) endpoint(agent, listener string) (string, error) {
	l.mu.Lock()
	ag, ok := l.running[agent]
	l.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("scenarios: agent %s is not running", agent)
	}
	addr, ok := ag.Endpoints()[listener]
	if !ok || addr == "" {
		return "", fmt.Errorf("scenarios: agent %s has no %s endpoint", agent, listener)
	}
	return addr, nil
}

// hostname is the name an agent gives in greetings and EHLO: its hostname
// key, else its name when that is a domain name, else its name under its
// user's (or first) domain.
func (a *Agent) hostname(sc *Scenario) string {
	if a.Hostname != "" {
		return a.Hostname
	}
	if strings.Contains(a.Name, ".") && checkDomain(a.Name) == nil {
		return a.Name
	}
	dom := ""
	switch {
	case a.User != "":
		dom = domainOf(a.User)
	case len(a.Domains) > 0:
		dom = a.Domains[0]
	}
	if dom != "" && checkDomain(a.Name+"."+dom) == nil {
		return a.Name + "." + dom
	}
	return a.Name
}

// usersIn returns the scenario's users whose domain is one of domains.
func (sc *Scenario) usersIn(domains []string) []string {
	var out []string
	for _, u := range sc.Users {
		if containsFold(domains, domainOf(u.Address)) {
			out = append(out, u.Address)
		}
	}
	return out
}

func startMDA(ctx context.Context, l *Lab, a *Agent) (labAgent, error) {
	users := l.sc.usersIn(a.Domains)
	deliverer, err := l.deliverer(a)
	if err != nil {
		return nil, err
	}
	passwords := map[string]string{}
	for _, u := range l.sc.Users {
		if containsFold(a.Domains, domainOf(u.Address)) {
			passwords[u.Address] = u.Password
		}
	}
	host := a.hostname(l.sc)
	var pop3 pop3server.Options
	if ids := l.ids(a.Name); ids != nil {
		// The APOP timestamp of each greeting, from the lab's ids so that a
		// transcript renders the same twice.
		pop3.Timestamp = func() string { return "<" + ids() + "@" + host + ">" }
	}
	// 0 keeps the servers' default.
	pop3.MaxConns = a.MaxConnections
	imap := imapserver.Options{MaxConns: a.MaxConnections}
	var pop3s, imaps string
	if a.TLS {
		sc, err := l.serverTLS(a, "imap")
		if err != nil {
			return nil, err
		}
		pop3.TLSConfig, imap.TLSConfig = sc, sc
		pop3.AllowInsecureAuth, imap.AllowInsecureAuth = a.PlaintextAuth, a.PlaintextAuth
		pop3s, imaps = l.addrs[a.Name]["pop3s"], l.addrs[a.Name]["imaps"]
	}
	ag, err := mda.New(mda.Config{
		Name:        a.Name,
		Hostname:    host,
		Listen:      l.addrs[a.Name]["lmtp"],
		POP3Listen:  l.addrs[a.Name]["pop3"],
		IMAPListen:  l.addrs[a.Name]["imap"],
		POP3SListen: pop3s,
		IMAPSListen: imaps,
		Store:       l.store,
		Users:       users,
		Passwords:   passwords,
		Recorder:    l.rec,
		Now:         l.opts.Now,
		IDs:         l.ids(a.Name),
		POP3:        pop3,
		IMAP:        imap,
		Deliverer:   deliverer,
	})
	if err != nil {
		return nil, err
	}
	return ag, startAgent(ctx, ag)
}

func startMUA(ctx context.Context, l *Lab, a *Agent) (labAgent, error) {
	var hook func(proto, line string) error
	if l.opts.BeforeCommand != nil {
		name, before := a.Name, l.opts.BeforeCommand
		hook = func(proto, line string) error { return before(name, proto, line) }
	}
	m, err := mua.New(mua.Config{
		Name:          a.Name,
		Hostname:      a.hostname(l.sc),
		Recorder:      l.rec,
		BeforeCommand: hook,
		Now:           l.opts.Now,
		LocalAddr:     l.net.ip[a.Name],
		TLS:           l.clientTLS(),
	})
	if err != nil {
		return nil, err
	}
	if err := startAgent(ctx, m); err != nil {
		return m, err
	}
	l.mu.Lock()
	l.muas[a.Name] = m
	l.mu.Unlock()
	return m, nil
}

func startSink(ctx context.Context, l *Lab, a *Agent) (labAgent, error) {
	ag, err := sink.New(sink.Config{
		Name:            a.Name,
		Hostname:        a.hostname(l.sc),
		Listen:          l.addrs[a.Name]["smtp"],
		Recorder:        l.rec,
		MaxMessageBytes: a.MaxMessageSize,
	})
	if err != nil {
		return nil, err
	}
	return ag, startAgent(ctx, ag)
}

// startAgent starts ag; when that fails it stops ag too (Stop is safe after
// a partial start), since the caller will not track it.
func startAgent(ctx context.Context, ag labAgent) error {
	if err := ag.Start(ctx); err != nil {
		if serr := ag.Stop(context.Background()); serr != nil {
			return errors.Join(err, serr)
		}
		return err
	}
	return nil
}

// Recorder returns the lab's transcript recorder.
func (l *Lab) Recorder() *transcripts.Recorder { return l.rec }

// Scenario returns the scenario the lab runs.
func (l *Lab) Scenario() *Scenario { return l.sc }

// Store returns the lab's mail store, where MDAs deliver.
func (l *Lab) Store() *mailbox.Store { return l.store }

// Dir returns the lab's state directory.
func (l *Lab) Dir() string { return l.dir }

// Stop stops the agents in reverse start order and, when Start made the
// lab directory, removes it. It may be called more than once.
func (l *Lab) Stop(ctx context.Context) error {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return nil
	}
	l.stopped = true
	started := l.started
	sessions := l.sessions
	l.sessions = nil
	l.mu.Unlock()
	var errs []error
	if l.unsubscribe != nil {
		defer l.unsubscribe()
	}
	// The devices' IMAP sessions end first, one at a time, each LOGOUT
	// recorded to the close before the next: the end of a transcript
	// reads the same every time.
	for _, ds := range sessions {
		halt := context.AfterFunc(ctx, func() { ds.s.Close() })
		_ = ds.s.Logout() // a session the server dropped is closed all the same
		halt()
		ds.s.Close()
		l.conns.waitClosed(ctx, ds.device, "imap")
	}
	for i := len(started) - 1; i >= 0; i-- {
		if err := started[i].Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("scenarios: stopping %s: %w", started[i].Name(), err))
		}
		// The connections it opened (an MTA's idle LMTP sessions) are
		// recorded closed before the next agent stops.
		if l.conns != nil {
			l.conns.waitClosed(ctx, started[i].Name(), "lmtp")
		}
	}
	if l.store != nil {
		// The lab opened the store; its MDAs are stopped.
		if err := l.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("scenarios: closing the mail store: %w", err))
		}
	}
	if l.temp {
		if err := os.RemoveAll(l.dir); err != nil {
			errs = append(errs, fmt.Errorf("scenarios: removing the lab directory: %w", err))
		}
	}
	return errors.Join(errs...)
}

// LabInfo describes a running lab, for `maillab lab info` and scripts.
type LabInfo struct {
	Agents  []AgentInfo `json:"agents"`
	Users   []UserInfo  `json:"users"`
	Maildir string      `json:"maildir"`
	// Dir is the lab's state directory (Maildirs, queues).
	Dir string `json:"dir"`
	// Queues are the MTAs' queue directories (with a dns agent).
	Queues []QueueInfo `json:"queues,omitempty"`
	// CA is the lab CA's certificate file (PEM), when an agent uses TLS:
	// tell clients to trust it (curl --cacert, openssl -CAfile...).
	CA string `json:"ca,omitempty"`
}

// AgentInfo is one agent of a running lab and where it listens.
type AgentInfo struct {
	Name    string            `json:"name"`
	Kind    string            `json:"kind"`
	Domains []string          `json:"domains"`
	Listen  map[string]string `json:"listen"`
}

// UserInfo is one account of the lab.
type UserInfo struct {
	Address  string `json:"address"`
	Password string `json:"password"`
}

// Info describes the lab: its agents in declaration order with their
// actual listen addresses, its users, and the Maildir root.
func (l *Lab) Info() LabInfo {
	info := LabInfo{Agents: []AgentInfo{}, Users: []UserInfo{}, Maildir: l.store.Root(), Dir: l.dir, Queues: l.Queues()}
	if l.ca != nil {
		info.CA = l.ca.CertFile()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range l.sc.Agents {
		ai := AgentInfo{Name: a.Name, Kind: a.Kind, Domains: append([]string{}, a.Domains...), Listen: map[string]string{}}
		if ag, ok := l.running[a.Name]; ok {
			for k, v := range ag.Endpoints() {
				ai.Listen[k] = v
			}
		}
		info.Agents = append(info.Agents, ai)
	}
	for _, u := range l.sc.Users {
		info.Users = append(info.Users, UserInfo{Address: u.Address, Password: u.Password})
	}
	return info
}
