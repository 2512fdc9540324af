package scenarios

// Mail between domains: the dns agent, the MTAs' relay policy and queue,
// and the plan that gives each lab host its own loopback address.
//
// As on the internet, an MX answer names a host, the host's A record gives
// its address, and an MTA connects to that address on the SMTP port. So
// that this holds without special cases, a scenario with a dns agent gives
// every host an address of its own in 127.0.0.0/8: the hosts of the n-th
// domain get 127.0.n.1, 127.0.n.2... in declaration order (the dns agent
// and hosts of no domain get 127.0.0.2, 127.0.0.3...), and every MTA
// listens on the same SMTP port of its own address: 25 when the lab may
// bind it (Options.WellKnownPorts, for root), the port base when one is
// given, else one free port found on every address.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	dnsagent "github.com/maillab/maillab/agents/dns"
	"github.com/maillab/maillab/agents/mta"
	"github.com/maillab/maillab/agents/queue"
	"github.com/maillab/maillab/protocols/dns"
	"github.com/maillab/maillab/protocols/dns/dnsclient"
	"github.com/maillab/maillab/protocols/smtp"

	"go.yaml.in/yaml/v3"
)

var enhancedRE = regexp.MustCompile(`^[245]\.\d{1,3}\.\d{1,3}$`)

// relayKeys are the keys of every MTA kind about size and mail between
// domains.
var relayKeys = []string{"max_message_size", "max_recipients", "relay_for", "smarthost", "relay_refusal", "retry", "max_age", "faults"}

// FaultSpec is a fault of an MTA, as the scenario wrote it.
//
//	faults:
//	  - {command: RCPT, reply: "451 4.3.0 Try again later", times: 2}
//	  - {command: DATA, delay: 2s}
type FaultSpec struct {
	Pos     Pos
	Command string
	Reply   string
	Times   int
	Delay   time.Duration
}

// RecordSpec is a DNS record a dns agent serves besides the lab's own.
//
//	records:
//	  - {name: b.example, type: MX, preference: 20, value: backup.b.example}
//	  - {name: b.example, type: TXT, value: "v=spf1 mx -all"}
type RecordSpec struct {
	Pos        Pos
	Name       string
	Type       string
	Preference int
	TTL        int
	Value      string
}

func (d *decoder) durations(n *yaml.Node, what string, dst *[]time.Duration) {
	var list []string
	d.strs(n, what, &list)
	rn := resolve(n)
	for i, s := range list {
		v, err := time.ParseDuration(s)
		if err != nil || v <= 0 || v > time.Hour {
			at := rn
			if rn != nil && rn.Kind == yaml.SequenceNode && i < len(rn.Content) {
				at = rn.Content[i]
			}
			d.errorf(at, "%s: expected durations such as 2s or 10m (at most 1h), found %q", what, s)
			continue
		}
		*dst = append(*dst, v)
	}
}

func (d *decoder) fault(n *yaml.Node, a *Agent) {
	f := FaultSpec{Pos: d.pos(resolve(n))}
	seen, ok := d.mapping(n, "fault", []field{
		{"command", func(v *yaml.Node) { d.str(v, "command", &f.Command) }},
		{"reply", func(v *yaml.Node) { d.str(v, "reply", &f.Reply) }},
		{"times", func(v *yaml.Node) { d.integer(v, "times", &f.Times) }},
		{"delay", func(v *yaml.Node) { d.duration(v, "delay", &f.Delay) }},
	})
	if !ok {
		return
	}
	d.need(seen, f.Pos, "fault", "command")
	_, hasReply := seen["reply"]
	_, hasDelay := seen["delay"]
	if !hasReply && !hasDelay {
		d.errorAt(f.Pos, "fault: give reply (the code to answer), delay (how long to wait), or both")
	}
	if hasReply {
		if _, err := parseFaultReply(f.Reply); err != nil {
			d.errorAt(seen["reply"], "reply: %v", err)
		}
	}
	switch strings.ToUpper(f.Command) {
	case "MAIL", "RCPT", "DATA", "":
	default:
		d.errorAt(seen["command"], "command: %q: faults are for MAIL, RCPT or DATA (the reply after the message text)", f.Command)
	}
	if f.Delay > time.Minute {
		d.errorAt(seen["delay"], "delay: at most 1m")
	}
	a.Faults = append(a.Faults, f)
}

// parseFaultReply reads "451 4.3.0 Try again later".
func parseFaultReply(s string) (*smtp.Error, error) {
	fields := strings.SplitN(strings.TrimSpace(s), " ", 3)
	code, err := strconv.Atoi(fields[0])
	if err != nil || code < 400 || code > 599 || len(fields[0]) != 3 {
		return nil, fmt.Errorf("expected a 4yz or 5yz reply such as \"451 4.3.0 Try again later\", found %q", s)
	}
	e := &smtp.Error{Code: smtp.Code(code), Message: "Fault injected by the scenario"}
	if len(fields) > 1 {
		if enhancedRE.MatchString(fields[1]) {
			if fields[1][0] != fields[0][0] {
				return nil, fmt.Errorf("enhanced code %s does not match the class of %d", fields[1], code)
			}
			e.Enhanced = fields[1]
			if len(fields) > 2 {
				e.Message = fields[2]
			}
		} else {
			e.Message = strings.Join(fields[1:], " ")
		}
	}
	if e.Enhanced == "" {
		e.Enhanced = fmt.Sprintf("%c.0.0", fields[0][0])
	}
	return e, nil
}

func (d *decoder) record(n *yaml.Node, a *Agent) {
	r := RecordSpec{Pos: d.pos(resolve(n))}
	seen, ok := d.mapping(n, "record", []field{
		{"name", func(v *yaml.Node) { d.str(v, "name", &r.Name) }},
		{"type", func(v *yaml.Node) { d.str(v, "type", &r.Type) }},
		{"preference", func(v *yaml.Node) { d.integer(v, "preference", &r.Preference) }},
		{"ttl", func(v *yaml.Node) { d.integer(v, "ttl", &r.TTL) }},
		{"value", func(v *yaml.Node) { d.str(v, "value", &r.Value) }},
	})
	if !ok {
		return
	}
	d.need(seen, r.Pos, "record", "name", "type", "value")
	r.Type = strings.ToUpper(r.Type)
	switch r.Type {
	case "MX", "A", "AAAA", "TXT", "PTR", "NS":
	default:
		if r.Type != "" {
			d.errorAt(seen["type"], "type: %q: the lab serves MX, A, AAAA, TXT, PTR and NS records", r.Type)
		}
	}
	if p, has := seen["preference"]; has && (r.Type != "MX" || r.Preference > 65535) {
		d.errorAt(p, "preference: only MX records have one, from 0 to 65535")
	}
	a.Records = append(a.Records, r)
}

func hasDNS(sc *Scenario) bool {
	for _, a := range sc.Agents {
		if a.Kind == "dns" {
			return true
		}
	}
	return false
}

func isMTAKind(kind string) bool {
	return kind == "mta" || kind == "open-relay" || kind == "smarthost"
}

// relayDeps: the MDA, the smarthost and the DNS start first.
func relayDeps(a *Agent) []string {
	var out []string
	if a.DeliverTo != "" {
		out = append(out, a.DeliverTo)
	}
	if a.Smarthost != "" {
		out = append(out, a.Smarthost)
	}
	return out
}

func checkRelay(v *validator, a *Agent) {
	checkRelayKeys(v, a)
	if len(a.Domains) > 0 || a.DeliverTo != "" {
		checkDeliverTo(v, a)
	}
	if !hasDNS(v.sc) && a.Smarthost == "" {
		v.errorAt(a.Pos, "%s %s: add a dns agent to the scenario, so it can find other domains' MTAs through their MX records", a.Kind, a.Name)
	}
}

func checkRelayKeys(v *validator, a *Agent) {
	for i, r := range a.RelayFor {
		if _, err := netip.ParsePrefix(r); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(r); err == nil {
			continue
		}
		if _, ok := v.agents[r]; !ok {
			v.errorAt(a.at.of("relay_for", a.Pos), "relay_for: item %d, %q, is neither an agent nor a network such as 127.0.5.0/24", i+1, r)
		}
	}
	if p, has := a.at["relay_users"]; has {
		for _, u := range a.RelayUsers {
			v.knownUser(p, "relay_users", u)
		}
	}
	if a.Smarthost != "" {
		p := a.at.of("smarthost", a.Pos)
		sh, ok := v.agents[a.Smarthost]
		switch {
		case !ok:
			v.errorAt(p, "smarthost: no agent is called %q", a.Smarthost)
		case sh.Kind != "smarthost" && sh.Kind != "open-relay" && sh.Kind != "mta":
			v.errorAt(p, "smarthost: %s is of kind %s, not an MTA", a.Smarthost, sh.Kind)
		case sh.Name == a.Name:
			v.errorAt(p, "smarthost: an MTA cannot relay through itself")
		}
	}
	if p, has := a.at["relay_refusal"]; has && a.RelayRefusal != 550 && a.RelayRefusal != 554 && a.RelayRefusal != 454 {
		v.errorAt(p, "relay_refusal: 550 (RFC 5321 section 3.6.2), 554 or 454 (as Postfix may answer)")
	}
	if (len(a.Retry) > 0 || a.MaxAge > 0 || a.Smarthost != "") && !hasDNS(v.sc) && a.Smarthost == "" {
		v.errorAt(a.Pos, "%s %s: retry and max_age are for mail to other domains: add a dns agent to the scenario", a.Kind, a.Name)
	}
}

func checkDNS(v *validator, a *Agent) {
	for _, d := range a.ImplicitMX {
		served := false
		for _, b := range v.sc.Agents {
			if isMTAKind(b.Kind) && containsFold(b.Domains, d) {
				served = true
			}
		}
		if !served {
			v.errorAt(a.at.of("implicit_mx", a.Pos), "implicit_mx: no MTA serves %s", d)
		}
		for _, r := range a.Records {
			if r.Type == "MX" && strings.EqualFold(strings.TrimSuffix(r.Name, "."), d) {
				v.errorAt(r.Pos, "record: %s is in implicit_mx, so it has no MX record", d)
			}
		}
	}
	n := 0
	for _, b := range v.sc.Agents {
		if b.Kind == "dns" {
			n++
		}
	}
	if n > 1 {
		v.errorAt(a.Pos, "dns %s: a lab has one dns agent", a.Name)
	}
	for _, r := range a.Records {
		if r.Type == "MX" || r.Type == "PTR" || r.Type == "NS" {
			if r.Value != "." && checkDomain(strings.TrimSuffix(r.Value, ".")) != nil {
				v.errorAt(r.Pos, "record: %s value %q is not a host name", r.Type, r.Value)
			}
		}
		if r.Type == "A" || r.Type == "AAAA" {
			ip, err := netip.ParseAddr(r.Value)
			if err != nil || (r.Type == "A") != ip.Is4() {
				v.errorAt(r.Pos, "record: %q is not an %s address", r.Value, map[bool]string{true: "IPv4", false: "IPv6"}[r.Type == "A"])
			}
		}
	}
}

// queueAgent checks that name is an agent with a queue.
func (v *validator) queueAgent(p Pos, key, name string) {
	a, ok := v.agents[name]
	switch {
	case !ok:
		v.errorAt(p, "%s: no agent is called %q", key, name)
	case !isMTAKind(a.Kind):
		v.errorAt(p, "%s: %s is of kind %s; only MTAs have a queue", key, name, a.Kind)
	}
}

// network is where the lab's hosts live when the scenario has a dns agent.
type network struct {
	on       bool
	ip       map[string]netip.Addr   // agent name -> its address
	site     map[string]netip.Prefix // agent name -> its site's /24
	smtpPort int
}

// siteDomain is the domain an agent belongs to, for its address.
func (a *Agent) siteDomain() string {
	switch {
	case a.Kind == "dns":
		return ""
	case len(a.Domains) > 0:
		return strings.ToLower(a.Domains[0])
	case a.User != "":
		return strings.ToLower(domainOf(a.User))
	case a.Hostname != "":
		if _, dom, ok := strings.Cut(a.Hostname, "."); ok {
			return strings.ToLower(dom)
		}
	}
	if _, dom, ok := strings.Cut(a.Name, "."); ok && checkDomain(dom) == nil {
		return strings.ToLower(dom)
	}
	return ""
}

// planNetwork gives every agent its address, when the scenario has a dns
// agent; otherwise every agent keeps Options.Host.
func planNetwork(sc *Scenario) (*network, error) {
	n := &network{ip: map[string]netip.Addr{}, site: map[string]netip.Prefix{}}
	if !hasDNS(sc) {
		return n, nil
	}
	n.on = true
	sites := map[string]int{"": 0}
	hosts := map[int]int{0: 1} // 127.0.0.1 is everybody's; the lab starts at .2
	for _, a := range sc.Agents {
		dom := a.siteDomain()
		s, ok := sites[dom]
		if !ok {
			s = len(sites)
			sites[dom] = s
		}
		if s > 255 {
			return nil, fmt.Errorf("scenarios: %s: more than 255 domains", sc.Name)
		}
		hosts[s]++
		if hosts[s] > 254 {
			return nil, fmt.Errorf("scenarios: %s: more than 254 hosts in %s", sc.Name, dom)
		}
		n.ip[a.Name] = netip.AddrFrom4([4]byte{127, 0, byte(s), byte(hosts[s])})
		n.site[a.Name] = netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 0, byte(s), 0}), 24)
	}
	return n, nil
}

// checkLoopback tells a user whose system has a single loopback address
// what to do.
func (n *network) checkLoopback() error {
	for _, ip := range n.ip {
		if ip == netip.AddrFrom4([4]byte{127, 0, 0, 1}) {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
		if err != nil {
			return fmt.Errorf("scenarios: this scenario gives each host its own loopback address (%s, ...), and this system cannot use it (%v). "+
				"Linux routes all of 127.0.0.0/8 to the loopback interface; on macOS add each address first, e.g. `sudo ifconfig lo0 alias %s up`", ip, err, ip)
		}
		l.Close()
		return nil
	}
	return nil
}

// pickSMTPPort finds one port free on every MTA's address.
func (n *network) pickSMTPPort(sc *Scenario) (int, error) {
	var ips []netip.Addr
	for _, a := range sc.Agents {
		if contains(kinds[a.Kind].listeners, "smtp") && a.Listen["smtp"] == "" {
			ips = append(ips, n.ip[a.Name])
		}
	}
	if len(ips) == 0 {
		return 0, nil
	}
	var last error
	for try := 0; try < 20; try++ {
		l, err := net.Listen("tcp", net.JoinHostPort(ips[0].String(), "0"))
		if err != nil {
			return 0, fmt.Errorf("scenarios: finding an SMTP port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		ls := []net.Listener{l}
		ok := true
		for _, ip := range ips[1:] {
			l2, err := net.Listen("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(port)))
			if err != nil {
				ok, last = false, err
				break
			}
			ls = append(ls, l2)
		}
		for _, l := range ls {
			l.Close()
		}
		if ok {
			return port, nil
		}
	}
	return 0, fmt.Errorf("scenarios: no port free on every MTA's address: %w", last)
}

// wellKnown are the ports a lab run by root uses in internet mode.
var wellKnown = map[string]int{"smtp": 25, "lmtp": 24, "pop3": 110, "imap": 143, "dns": 53,
	"submission": 587, "submissions": 465, "pop3s": 995, "imaps": 993}

// planInternet gives the listeners of an internet-mode lab their
// addresses: each agent's own address, the common SMTP port for MTAs.
func planInternet(sc *Scenario, opts Options, n *network) (map[string]map[string]string, error) {
	if err := n.checkLoopback(); err != nil {
		return nil, err
	}
	switch {
	case opts.WellKnownPorts:
		n.smtpPort = 25
	case opts.PortBase > 0:
		n.smtpPort = opts.PortBase
	default:
		p, err := n.pickSMTPPort(sc)
		if err != nil {
			return nil, err
		}
		n.smtpPort = p
	}
	out := map[string]map[string]string{}
	k := 1 // PortBase itself is the SMTP port
	for _, a := range sc.Agents {
		for _, name := range a.listeners() {
			port := 0
			switch {
			case name == "smtp":
				port = n.smtpPort
			case opts.WellKnownPorts:
				port = wellKnown[name]
			case opts.PortBase > 0:
				port = opts.PortBase + k
				k++
			}
			addr := net.JoinHostPort(n.ip[a.Name].String(), strconv.Itoa(port))
			if fixed, ok := a.Listen[name]; ok {
				addr = fixed
			}
			if out[a.Name] == nil {
				out[a.Name] = map[string]string{}
			}
			out[a.Name][name] = addr
		}
	}
	if opts.PortBase > 0 && opts.PortBase+k-1 > 65535 {
		return nil, fmt.Errorf("scenarios: port base %d: the listeners need ports up to %d", opts.PortBase, opts.PortBase+k-1)
	}
	return out, nil
}

// agentNamed returns the scenario's agent called name.
func (sc *Scenario) agentNamed(name string) *Agent {
	for i := range sc.Agents {
		if sc.Agents[i].Name == name {
			return &sc.Agents[i]
		}
	}
	return nil
}

// labDomains lists the domains of the lab, in order of first mention.
func (sc *Scenario) labDomains() []string {
	var out []string
	seen := map[string]bool{}
	add := func(d string) {
		d = strings.ToLower(d)
		if d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, a := range sc.Agents {
		for _, d := range a.Domains {
			add(d)
		}
	}
	for _, u := range sc.Users {
		add(domainOf(u.Address))
	}
	return out
}

// records are the lab's DNS records: an MX for each domain an MTA serves
// (unless the scenario lists MX records for it), an A and a PTR record for
// every host, then the scenario's own.
func (l *Lab) records(dnsAgent *Agent) ([]string, []dns.Record) {
	sc := l.sc
	zones := sc.labDomains()
	for _, a := range sc.Agents {
		if h := a.hostname(sc); strings.Contains(h, ".") {
			_, parent, _ := strings.Cut(strings.ToLower(h), ".")
			if !inZones(zones, h) && parent != "" {
				zones = append(zones, parent)
			}
		}
	}
	zones = append(zones, "127.in-addr.arpa")
	listedMX := map[string]bool{}
	for _, r := range dnsAgent.Records {
		if r.Type == "MX" {
			listedMX[strings.ToLower(strings.TrimSuffix(r.Name, "."))] = true
		}
	}
	implicit := map[string]bool{}
	for _, d := range dnsAgent.ImplicitMX {
		implicit[strings.ToLower(d)] = true
	}
	var out []dns.Record
	for _, a := range sc.Agents {
		if !isMTAKind(a.Kind) {
			continue
		}
		for _, d := range a.Domains {
			switch {
			case implicit[strings.ToLower(d)]:
				// No MX: the domain's own A record leads to its MTA.
				if ip, ok := l.net.ip[a.Name]; ok {
					out = append(out, dns.Record{Name: d, Type: "A", Value: ip.String()})
				}
			case !listedMX[strings.ToLower(d)]:
				out = append(out, dns.Record{Name: d, Type: "MX", Preference: 10, Value: a.hostname(sc)})
			}
		}
	}
	for _, a := range sc.Agents {
		ip, ok := l.net.ip[a.Name]
		if !ok {
			continue
		}
		h := a.hostname(sc)
		if !strings.Contains(h, ".") {
			continue
		}
		out = append(out, dns.Record{Name: h, Type: "A", Value: ip.String()})
		b := ip.As4()
		out = append(out, dns.Record{Name: fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa", b[3], b[2], b[1], b[0]), Type: "PTR", Value: h})
	}
	for _, r := range dnsAgent.Records {
		out = append(out, dns.Record{Name: r.Name, Type: r.Type, TTL: uint32(r.TTL), Preference: uint16(r.Preference), Value: r.Value})
		if !inZones(zones, r.Name) {
			_, parent, _ := strings.Cut(strings.ToLower(strings.TrimSuffix(r.Name, ".")), ".")
			if parent == "" {
				parent = strings.ToLower(r.Name)
			}
			zones = append(zones, parent)
		}
	}
	return zones, out
}

func inZones(zones []string, name string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	for _, z := range zones {
		if name == z || strings.HasSuffix(name, "."+z) {
			return true
		}
	}
	return false
}

func startDNS(ctx context.Context, l *Lab, a *Agent) (labAgent, error) {
	zones, records := l.records(a)
	names := map[netip.Addr]string{}
	for name, ip := range l.net.ip {
		names[ip] = name
	}
	ag, err := dnsagent.New(dnsagent.Config{
		Name:     a.Name,
		Listen:   l.addrs[a.Name]["dns"],
		Zones:    zones,
		Records:  records,
		Recorder: l.rec,
		ClientName: func(ip netip.Addr) string {
			return names[ip.Unmap()]
		},
	})
	if err != nil {
		return nil, err
	}
	return ag, startAgent(ctx, ag)
}

// dnsAgent returns the scenario's dns agent, or nil.
func (sc *Scenario) dnsAgent() *Agent {
	for i := range sc.Agents {
		if sc.Agents[i].Kind == "dns" {
			return &sc.Agents[i]
		}
	}
	return nil
}

// startMTA starts an agent of the kinds mta, open-relay and smarthost.
func startMTA(ctx context.Context, l *Lab, a *Agent) (labAgent, error) {
	cfg := mta.Config{
		Name:            a.Name,
		Hostname:        a.hostname(l.sc),
		Domains:         a.Domains,
		Listen:          l.addrs[a.Name]["smtp"],
		Users:           l.sc.usersIn(a.Domains),
		Recorder:        l.rec,
		Now:             l.opts.Now,
		MaxMessageBytes: a.MaxMessageSize,
		MaxRecipients:   a.MaxRecipients,
		IDs:             l.ids(a.Name),
		Gate:            l.gate(a.Name),
		RelayRefusal:    a.RelayRefusal,
		SubAddressing:   a.DeliverTo != "" && l.sc.agentNamed(a.DeliverTo) != nil && l.sc.needsLDA(l.sc.agentNamed(a.DeliverTo)),
		Aliases:         l.aliasesFor(a),
		Retry:           a.Retry,
		MaxAge:          a.MaxAge,
	}
	if a.DeliverTo != "" {
		lmtp, err := l.endpoint(a.DeliverTo, "lmtp")
		if err != nil {
			return nil, err
		}
		cfg.LMTP = lmtp
	}
	switch a.Kind {
	case "open-relay":
		cfg.Policy = mta.PolicyOpen
	case "smarthost":
		cfg.Policy = mta.PolicySmarthost
		cfg.RelayUsers = append([]string{}, a.RelayUsers...)
	}
	for _, f := range a.Faults {
		fault := mta.Fault{Command: strings.ToUpper(f.Command), Times: f.Times, Delay: f.Delay}
		if f.Reply != "" {
			r, err := parseFaultReply(f.Reply)
			if err != nil {
				return nil, err
			}
			fault.Reply = r
		}
		cfg.Faults = append(cfg.Faults, fault)
	}
	outbound := l.net.on || a.Smarthost != ""
	if outbound || a.TLS {
		// SMTP AUTH, for relaying and submission: the users of its
		// domains, and a smarthost's listed users. (A lab without mail
		// between domains or TLS has nothing to relay, and offers no
		// AUTH.)
		cfg.Passwords = map[string]string{}
		for _, u := range l.sc.Users {
			if containsFold(a.Domains, domainOf(u.Address)) || containsFold(a.RelayUsers, u.Address) {
				cfg.Passwords[u.Address] = u.Password
			}
		}
	}
	if a.TLS {
		sc, err := l.serverTLS(a, "smtp")
		if err != nil {
			return nil, err
		}
		cfg.TLS = sc
		cfg.PlaintextAuth = a.PlaintextAuth
		cfg.SubmissionListen = l.addrs[a.Name]["submission"]
		cfg.SubmissionsListen = l.addrs[a.Name]["submissions"]
	}
	cfg.ClientTLS = l.clientTLS()
	// Every MTA has a queue: without mail between domains it serves only
	// its own domains (second tries of refused copies, and bounces).
	cfg.QueueDir = filepath.Join(l.dir, "queue", a.Name)
	cfg.LocalOnly = !outbound
	if outbound {
		cfg.OutboundTimeout = time.Minute
		cfg.SMTPPort = l.net.smtpPort
		cfg.LocalIP = l.net.ip[a.Name]
		if d := l.sc.dnsAgent(); d != nil {
			server, err := l.endpoint(d.Name, "dns")
			if err != nil {
				return nil, err
			}
			cfg.Resolver = &dnsclient.Resolver{Server: server, LocalAddr: cfg.LocalIP}
		}
		if a.Smarthost != "" {
			if l.net.on {
				cfg.Smarthost = l.sc.agentNamed(a.Smarthost).hostname(l.sc)
			} else {
				addr, err := l.endpoint(a.Smarthost, "smtp")
				if err != nil {
					return nil, err
				}
				cfg.Smarthost = addr
			}
		}
		nets, err := l.relayNets(a)
		if err != nil {
			return nil, err
		}
		cfg.TrustedNets = nets
	}
	ag, err := mta.New(cfg)
	if err != nil {
		return nil, err
	}
	return ag, startAgent(ctx, ag)
}

// relayNets turns relay_for into networks; an mta without it trusts its
// own site, like Postfix's mynetworks_style = subnet.
func (l *Lab) relayNets(a *Agent) ([]netip.Prefix, error) {
	if len(a.RelayFor) == 0 {
		if a.Kind == "mta" && l.net.on {
			return []netip.Prefix{l.net.site[a.Name]}, nil
		}
		return nil, nil
	}
	var out []netip.Prefix
	for _, r := range a.RelayFor {
		if p, err := netip.ParsePrefix(r); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(r); err == nil {
			out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		ip, ok := l.net.ip[r]
		if !ok {
			ip = netip.AddrFrom4([4]byte{127, 0, 0, 1}) // no plan: everybody is 127.0.0.1
		}
		out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return out, nil
}

// gate returns an MTA's Config.Gate in a Repeatable run, nil otherwise.
// In such a run the queues deliver only while a wait step runs (the gate
// is open), one attempt at a time (the lab's delivery token, held until
// the attempt is over and its connections are recorded closed), and wait
// steps look only between attempts. So one thing happens at a time and the
// transcript renders the same twice. A live run delivers at once, as real
// MTAs do.
func (l *Lab) gate(agent string) func(ctx context.Context) (func(), error) {
	if !l.opts.Repeatable {
		return nil
	}
	return func(ctx context.Context) (func(), error) {
		for {
			l.gateMu.Lock()
			held, ch := l.gateHeld, l.gateOpen
			l.gateMu.Unlock()
			if held {
				select {
				case <-ch:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				continue
			}
			if err := l.takeToken(ctx); err != nil {
				return nil, err
			}
			// The gate may have closed while the token was awaited.
			l.gateMu.Lock()
			held = l.gateHeld
			l.gateMu.Unlock()
			if held {
				l.dropToken()
				continue
			}
			return func() {
				l.conns.waitClosed(context.Background(), agent, "smtp")
				l.dropToken()
			}, nil
		}
	}
}

// takeToken takes the lab's delivery token (Repeatable runs only).
func (l *Lab) takeToken(ctx context.Context) error {
	select {
	case l.token <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *Lab) dropToken() { <-l.token }

// between runs check while no delivery attempt is under way, in a
// Repeatable run; otherwise at once.
func (l *Lab) between(ctx context.Context, check func()) error {
	if !l.opts.Repeatable {
		check()
		return nil
	}
	if err := l.takeToken(ctx); err != nil {
		return err
	}
	defer l.dropToken()
	check()
	return nil
}

// openGate lets the queues deliver (a wait step begins).
func (l *Lab) openGate() {
	l.gateMu.Lock()
	defer l.gateMu.Unlock()
	if l.gateHeld {
		l.gateHeld = false
		close(l.gateOpen)
	}
}

// closeGate stops the queues from starting attempts, after the one under
// way (a wait step ends).
func (l *Lab) closeGate(ctx context.Context) {
	held := l.takeToken(ctx) == nil
	l.gateMu.Lock()
	if !l.gateHeld {
		l.gateHeld = true
		l.gateOpen = make(chan struct{})
	}
	l.gateMu.Unlock()
	if held {
		l.dropToken()
	}
}

// restart starts a stopped agent again, on the same addresses and state.
func (l *Lab) restart(ctx context.Context, name string) error {
	a := l.sc.agentNamed(name)
	if a == nil {
		return fmt.Errorf("no agent is called %q", name)
	}
	l.mu.Lock()
	_, running := l.running[name]
	l.mu.Unlock()
	if running {
		return fmt.Errorf("%s is already running", name)
	}
	ag, err := kinds[a.Kind].start(ctx, l, a)
	if err != nil {
		return fmt.Errorf("starting %s again: %w", name, err)
	}
	l.mu.Lock()
	l.running[name] = ag
	for i, s := range l.started {
		if s.Name() == name {
			l.started[i] = ag
		}
	}
	l.mu.Unlock()
	return nil
}

// halt stops a running agent; the lab keeps its state for restart.
func (l *Lab) halt(ctx context.Context, name string) error {
	l.mu.Lock()
	ag, ok := l.running[name]
	delete(l.running, name)
	l.mu.Unlock()
	if !ok {
		return fmt.Errorf("%s is not running", name)
	}
	return ag.Stop(ctx)
}

// queueOf returns the queue of a running MTA.
func (l *Lab) queueOf(name string) (*queue.Queue, error) {
	l.mu.Lock()
	ag, ok := l.running[name]
	l.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%s is not running", name)
	}
	m, ok := ag.(*mta.MTA)
	if !ok || m.Queue() == nil {
		return nil, fmt.Errorf("%s has no queue", name)
	}
	return m.Queue(), nil
}

// stopStart runs the stop and start steps.
func (s *stepRun) stopStart(ctx context.Context) error {
	name := s.st.Agent
	switch s.st.Kind {
	case StepStop:
		s.say("%s stops, as if its machine went down", name)
		if err := s.lab.halt(ctx, name); err != nil {
			return fmt.Errorf("stop %s: %w", name, err)
		}
		// Its connections to others (an MTA's idle LMTP sessions) are
		// recorded closed before the next step.
		s.lab.conns.waitClosed(ctx, name, "lmtp")
		s.lab.conns.waitClosed(ctx, name, "smtp")
	case StepStart:
		s.say("%s starts again, on the same addresses and files", name)
		if err := s.lab.restart(ctx, name); err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
	case StepFlush:
		q, err := s.lab.queueOf(name)
		if err != nil {
			return fmt.Errorf("flush %s: %w", name, err)
		}
		s.say("%s retries every deferred message now (like `postqueue -f`)", name)
		q.Kick()
	}
	s.check(s.st.Pos, true, s.st.Kind+" "+name, "")
	return nil
}

// waitQueue runs a wait step on a queue.
func (s *stepRun) waitQueue(ctx context.Context) error {
	w := s.st.Wait
	what := fmt.Sprintf("wait until a message in the queue of %s has had %d %s", w.Queue, w.Attempts, plural(w.Attempts, "attempt"))
	if w.Empty {
		what = fmt.Sprintf("wait until the queue of %s is empty", w.Queue)
	}
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	for {
		q, err := s.lab.queueOf(w.Queue)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		var list []queue.Message
		done := false
		if err := s.lab.between(ctx, func() {
			list = q.List()
			done = len(list) == 0
			if !w.Empty {
				done = false
				for _, m := range list {
					if m.Attempts >= w.Attempts {
						done = true
					}
				}
			}
		}); err != nil && ctx.Err() == nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if done {
			s.check(s.st.Pos, true, what, "")
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				s.check(s.st.Pos, false, what, "%d %s still queued after %v", len(list), plural(len(list), "message"), w.Timeout)
				return nil
			}
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// QueueInfo describes the queue of one MTA of a lab.
type QueueInfo struct {
	Agent string `json:"agent"`
	Dir   string `json:"dir"`
}

// Queues lists where the lab's MTAs keep their queues.
func (l *Lab) Queues() []QueueInfo {
	var out []QueueInfo
	for _, a := range l.sc.Agents {
		if !isMTAKind(a.Kind) {
			continue
		}
		dir := filepath.Join(l.dir, "queue", a.Name)
		if _, err := os.Stat(dir); err == nil {
			out = append(out, QueueInfo{Agent: a.Name, Dir: dir})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Agent < out[j].Agent })
	return out
}

// aliasesFor lists the aliases of the MDA an MTA delivers to, which the
// MTA must accept at RCPT.
func (l *Lab) aliasesFor(a *Agent) []string {
	d := l.sc.agentNamed(a.DeliverTo)
	if d == nil {
		return nil
	}
	var out []string
	for alias := range d.aliasTable() {
		out = append(out, alias)
	}
	return out
}
