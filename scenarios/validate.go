package scenarios

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/protocols/mail"
)

// validator checks what decoding cannot: names that refer to each other,
// addresses, and what each kind needs.
type validator struct {
	*decoder
	sc     *Scenario
	agents map[string]*Agent
	users  map[string]*User // by lower-cased address
}

// MaxDataSize bounds data_size in a dialogue: enough to exceed any lab limit.
const MaxDataSize = 64 << 20

func (d *decoder) validate(sc *Scenario) {
	v := &validator{decoder: d, sc: sc, agents: map[string]*Agent{}, users: map[string]*User{}}
	if sc.Name != "" && !validName(sc.Name) {
		v.errorAt(Pos{File: d.file, Line: 1, Col: 1}, "name: %q: use letters, digits, '.', '-' and '_'", sc.Name)
	}
	for i := range sc.Agents {
		a := &sc.Agents[i]
		if first, dup := v.agents[a.Name]; dup {
			v.errorAt(a.at.of("name", a.Pos), "duplicate agent name %q (first at %s)", a.Name, first.at.of("name", first.Pos))
			continue
		}
		v.agents[a.Name] = a
	}
	served := map[string]bool{}
	for i := range sc.Agents {
		a := &sc.Agents[i]
		if k, ok := kinds[a.Kind]; ok && k.serves {
			for _, dom := range a.Domains {
				served[strings.ToLower(dom)] = true
			}
		}
	}
	for i := range sc.Users {
		u := &sc.Users[i]
		p := u.Pos
		if err := checkAddress(u.Address); err != nil {
			v.errorAt(p, "user: %v", err)
			continue
		}
		key := strings.ToLower(u.Address)
		if first, dup := v.users[key]; dup {
			v.errorAt(p, "duplicate user %s (first at %s)", u.Address, first.Pos)
			continue
		}
		v.users[key] = u
		if dom := domainOf(u.Address); !served[strings.ToLower(dom)] && !hasDNS(sc) {
			// With a dns agent the lab is an internet in miniature, and a
			// user may live outside its domains: a spammer, say, who
			// sends but has no mailbox here.
			v.errorAt(p, "user %s: no mta or mda serves %s (add it to an agent's domains)", u.Address, dom)
		}
	}
	for i := range sc.Agents {
		v.agent(&sc.Agents[i])
	}
	for i := range sc.Steps {
		v.step(&sc.Steps[i])
	}
}

func (v *validator) agent(a *Agent) {
	if !validName(a.Name) {
		v.errorAt(a.at.of("name", a.Pos), "agent name %q: use letters, digits, '.', '-' and '_'", a.Name)
	}
	if a.Hostname != "" && checkDomain(a.Hostname) != nil {
		v.errorAt(a.at.of("hostname", a.Pos), "hostname %q is not a domain name", a.Hostname)
	}
	k, ok := kinds[a.Kind]
	if !ok {
		if a.Kind != "" {
			v.errorAt(a.at.of("kind", a.Pos), "unknown agent kind %q (known: %s)", a.Kind, strings.Join(kindNames(), ", "))
		}
		return
	}
	for _, key := range []string{"domains", "deliver_to", "user", "max_message_size", "max_recipients", "max_connections",
		"relay_for", "relay_users", "smarthost", "relay_refusal", "retry", "max_age", "faults", "records", "implicit_mx", "tls", "plaintext_auth", "aliases"} {
		if p, has := a.at[key]; has && !contains(k.keys, key) {
			v.errorAt(p, "%s: an agent of kind %s has no %s", key, a.Kind, key)
		}
	}
	for _, dom := range a.Domains {
		if err := checkDomain(dom); err != nil {
			v.errorAt(a.at.of("domains", a.Pos), "domains: %v", err)
		}
	}
	for _, name := range sortedKeys(a.Listen) {
		p := a.at.of("listen", a.Pos)
		if !contains(a.listeners(), name) {
			switch {
			case contains(k.tlsListeners, name):
				v.errorAt(p, "listen: %s is a TLS listener: give the agent tls: true", name)
			case len(k.listeners) == 0:
				v.errorAt(p, "listen: an agent of kind %s listens on nothing", a.Kind)
			default:
				v.errorAt(p, "listen: an agent of kind %s has no %q listener (it has: %s)", a.Kind, name, strings.Join(a.listeners(), ", "))
			}
			continue
		}
		if err := checkHostPort(a.Listen[name]); err != nil {
			v.errorAt(p, "listen: %s: %v", name, err)
		}
	}
	if p, has := a.at["plaintext_auth"]; has && !a.TLS {
		v.errorAt(p, "plaintext_auth: only means something with tls: true (without TLS every password crosses in clear anyway)")
	}
	if k.check != nil {
		k.check(v, a)
	}
}

func (v *validator) step(st *Step) {
	switch st.Kind {
	case StepSend:
		s := st.Send
		v.mua(s.at.of("as", st.Pos), s.As)
		v.smtpAgent(s.at.of("via", st.Pos), s.Via)
		if a, ok := v.agents[s.Via]; ok && !a.TLS {
			if p, has := s.at["port"]; has && s.Port != "smtp" {
				v.errorAt(p, "port: %s has no %s port: give it tls: true", s.Via, s.Port)
			} else if s.TLS == "starttls" {
				v.errorAt(s.at.of("tls", st.Pos), "tls: %s offers no STARTTLS: give it tls: true", s.Via)
			}
		}
		if s.From != "" {
			if err := checkAddress(s.From); err != nil {
				v.errorAt(s.at.of("from", st.Pos), "from: %v", err)
			}
		}
		for _, f := range []struct {
			key   string
			addrs []string
		}{{"to", s.To}, {"cc", s.Cc}, {"bcc", s.Bcc}} {
			for _, addr := range f.addrs {
				if err := checkAddress(addr); err != nil {
					v.errorAt(s.at.of(f.key, st.Pos), "%s: %v", f.key, err)
				}
			}
		}
	case StepWait:
		if st.Wait.Queue != "" {
			v.queueAgent(st.Wait.at.of("queue", st.Pos), "queue", st.Wait.Queue)
			break
		}
		v.knownUser(st.Wait.at.of("mailbox", st.Pos), "mailbox", st.Wait.Mailbox)
	case StepStop, StepStart:
		if _, ok := v.agents[st.Agent]; !ok {
			v.errorAt(st.Pos, "%s: no agent is called %q", st.Kind, st.Agent)
		} else if a := v.agents[st.Agent]; a.Kind == "mua" {
			v.errorAt(st.Pos, "%s: %s is an mua, a program on a device; stop and start servers", st.Kind, st.Agent)
		}
	case StepFlush:
		v.queueAgent(st.Pos, "flush", st.Agent)
	case StepExpect:
		v.expect(st)
	case StepPOP3:
		p := st.POP3
		v.device(p.at.of("as", st.Pos), p.As, p.Via, p.at.of("via", st.Pos))
		v.readTLS(p.at.of("tls", st.Pos), p.Via, p.TLS)
	case StepIMAP:
		v.imap(st)
		v.readTLS(st.IMAP.at.of("tls", st.Pos), st.IMAP.Via, st.IMAP.TLS)
	case StepSMTP:
		dl := st.SMTP
		v.mua(dl.at.of("as", st.Pos), dl.As)
		v.smtpAgent(dl.at.of("via", st.Pos), dl.Via)
		for _, x := range dl.Exchanges {
			if x.DataSize > MaxDataSize {
				v.errorAt(x.Pos, "data_size: at most %dMiB", MaxDataSize>>20)
			}
		}
	}
}

// mua checks that name, the value of key, is an MUA.
func (v *validator) mua(p Pos, name string, key ...string) {
	if name == "" {
		return
	}
	k, doing := "as", "messages are sent as an mua"
	if len(key) > 0 {
		k, doing = key[0], "a device is an mua"
	}
	a, ok := v.agents[name]
	switch {
	case !ok:
		v.errorAt(p, "%s: no agent is called %q", k, name)
	case a.Kind != "mua":
		v.errorAt(p, "%s: %s is an %s; %s", k, name, a.Kind, doing)
	}
}

// smtpAgent checks that name is an agent with an SMTP listener.
func (v *validator) smtpAgent(p Pos, name string) {
	if name == "" {
		return
	}
	a, ok := v.agents[name]
	if !ok {
		v.errorAt(p, "via: no agent is called %q", name)
		return
	}
	if k, known := kinds[a.Kind]; known && !contains(k.listeners, "smtp") {
		v.errorAt(p, "via: %s is an %s, which does not speak SMTP (send via an mta)", name, a.Kind)
	}
}

func (v *validator) knownUser(p Pos, key, addr string) {
	if addr == "" {
		return
	}
	if err := checkAddress(addr); err != nil {
		v.errorAt(p, "%s: %v", key, err)
		return
	}
	if _, ok := v.users[strings.ToLower(addr)]; !ok {
		v.errorAt(p, "%s: %s is not one of the scenario's users", key, addr)
	}
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// checkAddress accepts an addr-spec as mail.ParseAddress does (RFC 5322
// section 3.4.1 restricted to RFC 5321 section 4.1.2), written bare.
func checkAddress(s string) error {
	if strings.HasPrefix(strings.TrimSpace(s), "<") {
		return fmt.Errorf("%q: write the address without < >", s)
	}
	if _, err := mail.ParseAddress(s); err != nil {
		var se *mail.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("%q: %s", s, se.Reason)
		}
		return err
	}
	return nil
}

// checkDomain accepts letter-digit-hyphen labels separated by dots.
func checkDomain(s string) error {
	if s == "" || len(s) > 255 {
		return fmt.Errorf("%q is not a domain name", s)
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q is not a domain name", s)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("%q is not a domain name", s)
			}
		}
	}
	return nil
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q: host:port expected", s)
	}
	if net.ParseIP(host) == nil && host != "localhost" {
		return fmt.Errorf("%q: the host must be an IP address", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: the port must be a number from 0 to 65535", s)
	}
	return nil
}

func domainOf(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (v *validator) expect(st *Step) {
	e := st.Expect
	if e.Device != "" {
		v.mua(e.at.of("device", st.Pos), e.Device, "device")
		for _, key := range []string{"folder", "message", "headers", "header_count", "flags", "no_flags", "maildir_flags"} {
			if p, has := e.at[key]; has {
				v.errorAt(p, "%s: a device's local store is checked by count only", key)
			}
		}
		return
	}
	v.knownUser(e.at.of("mailbox", st.Pos), "mailbox", e.Mailbox)
	if e.Folder != "" {
		v.folder(e.at.of("folder", st.Pos), "folder", e.Folder)
	}
	switch {
	case e.Count != 0:
	case len(e.Headers) > 0 || len(e.HeaderCount) > 0:
		v.errorAt(e.at.of("count", st.Pos), "count: 0 messages have no headers to check")
	case len(e.Flags)+len(e.NoFlags) > 0 || e.MaildirFlags != nil:
		v.errorAt(e.at.of("count", st.Pos), "count: 0 messages have no flags to check")
	}
	if e.Count > 0 && e.Message > e.Count {
		v.errorAt(e.at.of("message", st.Pos), "message: %d is beyond count %d", e.Message, e.Count)
	}
	v.flags(e.at.of("flags", st.Pos), "flags", e.Flags, false)
	v.flags(e.at.of("no_flags", st.Pos), "no_flags", e.NoFlags, false)
	if f := e.MaildirFlags; f != nil {
		for _, c := range *f {
			if !strings.ContainsRune("DFPRST", c) {
				v.errorAt(e.at.of("maildir_flags", st.Pos), "maildir_flags: %q: the letters after \":2,\" are D, F, P, R, S and T", *f)
				break
			}
		}
	}
}

// device checks that name is an mua whose user can log in at the mda via.
func (v *validator) device(p Pos, name, via string, viaPos Pos) {
	v.mua(p, name, "as")
	a, ok := v.agents[name]
	if ok && a.Kind == "mua" && a.User != "" {
		if u, known := v.users[strings.ToLower(a.User)]; known && u.Password == "" {
			v.errorAt(p, "as: %s reads the mail of %s, who has no password (add password: to the user)", name, a.User)
		}
	}
	if via == "" {
		return
	}
	mda, ok := v.agents[via]
	switch {
	case !ok:
		v.errorAt(viaPos, "via: no agent is called %q", via)
	case mda.Kind != "mda":
		if _, known := kinds[mda.Kind]; known {
			v.errorAt(viaPos, "via: %s is an %s; mail is read from an mda (POP3 and IMAP)", via, mda.Kind)
		}
	case ok && a != nil && a.Kind == "mua" && a.User != "" && !containsFold(mda.Domains, domainOf(a.User)):
		v.errorAt(viaPos, "via: mda %s does not keep mail for %s", via, a.User)
	}
}

func (v *validator) imap(st *Step) {
	im := st.IMAP
	v.device(im.at.of("as", st.Pos), im.As, im.Via, im.at.of("via", st.Pos))
	if im.Folder != "" {
		v.folder(im.at.of("folder", st.Pos), "folder", im.Folder)
	}
	if im.Do != "" && !contains(imapActions, im.Do) {
		v.errorAt(im.at.of("do", st.Pos), "do: unknown action %q (known: %s)", im.Do, strings.Join(imapActions, ", "))
		return
	}
	only := func(key, what string, allowed ...string) {
		if p, has := im.at[key]; has && !contains(allowed, im.Do) {
			v.errorAt(p, "%s: %s (not do: %s)", key, what, im.Do)
		}
	}
	only("to", "only a move has a destination", IMAPMove)
	only("until", "only an idle waits for news", IMAPIdle)
	only("timeout", "only an idle waits for news", IMAPIdle)
	only("while", "only an idle runs steps meanwhile", IMAPIdle)
	only("message", "an idle waits for news of the whole folder", IMAPList, IMAPRead, IMAPMarkRead, IMAPMove, IMAPDelete)
	switch im.Do {
	case IMAPRead, IMAPMarkRead, IMAPMove, IMAPDelete:
		if _, has := im.at["message"]; !has {
			v.errorAt(st.Pos, "imap %s: message is missing (a position such as 1, {subject: ...} or {uid: ...})", im.Do)
		}
	}
	if im.Do == IMAPMove {
		if im.To == "" {
			v.errorAt(im.at.of("to", st.Pos), "imap move: to is missing (the folder to move the message into)")
		} else if v.folder(im.at.of("to", st.Pos), "to", im.To) {
			from, _ := mailbox.CanonicalFolderName(cmpOr(im.Folder, mailbox.Inbox))
			to, _ := mailbox.CanonicalFolderName(im.To)
			if from == to {
				v.errorAt(im.at.of("to", st.Pos), "to: the message is in %s already", to)
			}
		}
	}
	if im.Until != "" && !contains(idleUntil, im.Until) {
		v.errorAt(im.at.of("until", st.Pos), "until: unknown news %q (known: %s)", im.Until, strings.Join(idleUntil, ", "))
	}
	for i := range im.While {
		w := &im.While[i]
		switch {
		case w.Kind == StepIMAP && w.IMAP.Do == IMAPIdle:
			v.errorAt(w.Pos, "while: one idle at a time (an idle inside while cannot end)")
			continue
		case w.Kind == StepIMAP && w.IMAP.As == im.As && w.IMAP.Via == im.Via:
			v.errorAt(w.IMAP.at.of("as", w.Pos), "as: %s is idling; its session takes no other command until DONE (use another device)", im.As)
		}
		v.step(w)
	}
	if e := im.Expect; e != nil {
		allowed := map[string][]string{
			"count":    {IMAPList, IMAPIdle},
			"subjects": {IMAPList},
			"flags":    {IMAPList},
			"no_flags": {IMAPList},
		}
		for _, key := range []string{"count", "subjects", "flags", "no_flags"} {
			if p, has := e.at[key]; has && !contains(allowed[key], im.Do) {
				v.errorAt(p, "%s: checked by do: %s, not %s", key, strings.Join(allowed[key], " or "), im.Do)
			}
		}
		if len(e.Flags)+len(e.NoFlags) > 0 && im.Message == nil && im.Do == IMAPList {
			p := e.at.of("flags", e.at.of("no_flags", st.Pos))
			v.errorAt(p, "flags: say which message (message: 1, {subject: ...} or {uid: ...})")
		}
		v.flags(e.at.of("flags", st.Pos), "flags", e.Flags, true)
		v.flags(e.at.of("no_flags", st.Pos), "no_flags", e.NoFlags, true)
	}
}

// idleUntil are the values of an idle's until.
var idleUntil = []string{"exists", "expunge", "flags", "any"}

// folder checks a folder name as the store would take it (RFC 3501
// section 5.1, Maildir++); it reports whether the name is good.
func (v *validator) folder(p Pos, key, name string) bool {
	if _, err := mailbox.CanonicalFolderName(name); err != nil {
		v.errorAt(p, "%s: %q is not a folder name: use names such as Archive or Work/2026 (no *, %%, empty parts, . or ..)", key, name)
		return false
	}
	return true
}

// systemFlags are the IMAP flags the store keeps (RFC 3501 section 2.3.2).
var systemFlags = []string{`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`}

func (v *validator) flags(p Pos, key string, flags []string, recent bool) {
	for _, f := range flags {
		if containsFold(systemFlags, f) || recent && strings.EqualFold(f, `\Recent`) {
			continue
		}
		known := strings.Join(systemFlags, ", ")
		if recent {
			known += `, \Recent`
		}
		v.errorAt(p, "%s: %s is not a flag the lab keeps (%s)", key, f, known)
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// readTLS checks that a reading step asks for TLS only from an mda that
// has it.
func (v *validator) readTLS(p Pos, via, mode string) {
	if mode == "" {
		return
	}
	if a, ok := v.agents[via]; ok && a.Kind == "mda" && !a.TLS {
		v.errorAt(p, "tls: %s has no TLS: give it tls: true", via)
	}
}
