package scenarios

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/maillab/maillab/agents/lda/sieve"
)

// scenario decodes the top mapping.
func (d *decoder) scenario(n *yaml.Node, sc *Scenario) {
	seen, ok := d.mapping(n, "scenario", []field{
		{"name", func(v *yaml.Node) { d.str(v, "name", &sc.Name) }},
		{"description", func(v *yaml.Node) { d.str(v, "description", &sc.Description) }},
		{"users", func(v *yaml.Node) { d.list(v, "users", func(item *yaml.Node) { d.user(item, sc) }) }},
		{"agents", func(v *yaml.Node) { d.list(v, "agents", func(item *yaml.Node) { d.agent(item, sc) }) }},
		{"steps", func(v *yaml.Node) { d.list(v, "steps", func(item *yaml.Node) { d.step(item, sc) }) }},
	})
	if !ok {
		if resolve(n) == nil || isNull(resolve(n)) {
			d.errorAt(Pos{File: d.file, Line: 1, Col: 1}, "empty scenario file")
		}
		return
	}
	if _, has := seen["name"]; !has || sc.Name == "" {
		d.errorf(resolve(n), "scenario: name is missing")
	}
}

func (d *decoder) list(n *yaml.Node, what string, each func(*yaml.Node)) {
	n = resolve(n)
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s: expected a list (- item), found %s", what, kindName(n))
		return
	}
	for _, item := range n.Content {
		each(item)
	}
}

func (d *decoder) user(n *yaml.Node, sc *Scenario) {
	u := User{Pos: d.pos(resolve(n))}
	var sieveNode *yaml.Node
	seen, ok := d.mapping(n, "user", []field{
		{"address", func(v *yaml.Node) { d.str(v, "address", &u.Address) }},
		{"password", func(v *yaml.Node) { d.str(v, "password", &u.Password) }},
		{"sieve", func(v *yaml.Node) { d.str(v, "sieve", &u.Sieve); sieveNode = resolve(v) }},
		{"forward", func(v *yaml.Node) { d.strs(v, "forward", &u.Forward) }},
		{"keep_copy", func(v *yaml.Node) { d.boolean(v, "keep_copy", &u.KeepCopy) }},
		{"quota", func(v *yaml.Node) { d.size(v, "quota", &u.Quota) }},
		{"quota_temporary", func(v *yaml.Node) { d.boolean(v, "quota_temporary", &u.QuotaTemporary) }},
	})
	if sieveNode != nil && u.Sieve != "" {
		script, err := sieve.Parse(u.Address+".sieve", []byte(u.Sieve))
		if err != nil {
			d.sieveError(sieveNode, err)
		}
		u.script = script
	}
	if p, has := seen["keep_copy"]; has && len(u.Forward) == 0 {
		d.errorAt(p, "keep_copy: only means something with forward")
	}
	if !ok {
		return
	}
	if _, has := seen["address"]; !has {
		d.errorAt(u.Pos, "user: address is missing")
	}
	sc.Users = append(sc.Users, u)
}

func (d *decoder) agent(n *yaml.Node, sc *Scenario) {
	a := Agent{Pos: d.pos(resolve(n))}
	seen, ok := d.mapping(n, "agent", []field{
		{"name", func(v *yaml.Node) { d.str(v, "name", &a.Name) }},
		{"kind", func(v *yaml.Node) { d.str(v, "kind", &a.Kind) }},
		{"hostname", func(v *yaml.Node) { d.str(v, "hostname", &a.Hostname) }},
		{"domains", func(v *yaml.Node) { d.strs(v, "domains", &a.Domains) }},
		{"deliver_to", func(v *yaml.Node) { d.str(v, "deliver_to", &a.DeliverTo) }},
		{"user", func(v *yaml.Node) { d.str(v, "user", &a.User) }},
		{"max_message_size", func(v *yaml.Node) { d.size(v, "max_message_size", &a.MaxMessageSize) }},
		{"max_recipients", func(v *yaml.Node) { d.integer(v, "max_recipients", &a.MaxRecipients) }},
		{"max_connections", func(v *yaml.Node) { d.integer(v, "max_connections", &a.MaxConnections) }},
		{"listen", func(v *yaml.Node) { a.Listen = d.listen(v) }},
		{"relay_for", func(v *yaml.Node) { d.strs(v, "relay_for", &a.RelayFor) }},
		{"relay_users", func(v *yaml.Node) { d.strs(v, "relay_users", &a.RelayUsers) }},
		{"smarthost", func(v *yaml.Node) { d.str(v, "smarthost", &a.Smarthost) }},
		{"relay_refusal", func(v *yaml.Node) { d.integer(v, "relay_refusal", &a.RelayRefusal) }},
		{"retry", func(v *yaml.Node) { d.durations(v, "retry", &a.Retry) }},
		{"max_age", func(v *yaml.Node) { d.duration(v, "max_age", &a.MaxAge) }},
		{"faults", func(v *yaml.Node) { d.list(v, "faults", func(item *yaml.Node) { d.fault(item, &a) }) }},
		{"records", func(v *yaml.Node) { d.list(v, "records", func(item *yaml.Node) { d.record(item, &a) }) }},
		{"implicit_mx", func(v *yaml.Node) { d.strs(v, "implicit_mx", &a.ImplicitMX) }},
		{"tls", func(v *yaml.Node) { d.boolean(v, "tls", &a.TLS) }},
		{"aliases", func(v *yaml.Node) { a.Aliases = d.aliases(v) }},
		{"plaintext_auth", func(v *yaml.Node) { d.boolean(v, "plaintext_auth", &a.PlaintextAuth) }},
	})
	if !ok {
		return
	}
	a.at = seen
	for _, key := range []string{"name", "kind"} {
		if _, has := seen[key]; !has {
			d.errorAt(a.Pos, "agent: %s is missing", key)
		}
	}
	sc.Agents = append(sc.Agents, a)
}

// listen decodes {smtp: "127.0.0.1:2525"}; which names a kind accepts is
// checked in validate.
func (d *decoder) listen(n *yaml.Node) map[string]string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n != nil {
			d.errorf(n, "listen: expected a mapping such as {smtp: \"127.0.0.1:2525\"}, found %s", kindName(n))
		}
		return nil
	}
	m := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			d.errorf(n.Content[i], "listen: keys must be plain words")
			continue
		}
		if _, dup := m[k.Value]; dup {
			d.errorf(k, "listen: %q repeated", k.Value)
			continue
		}
		var addr string
		d.str(n.Content[i+1], "listen: "+k.Value, &addr)
		m[k.Value] = addr
	}
	return m
}

// step decodes one item of steps: a mapping with exactly one key.
func (d *decoder) step(n *yaml.Node, sc *Scenario) {
	n = resolve(n)
	if n == nil {
		return
	}
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		d.errorf(n, "step: expected one of %s, each as \"- kind: ...\"", strings.Join(stepKinds, ", "))
		return
	}
	k, v := resolve(n.Content[0]), n.Content[1]
	if k == nil || k.Kind != yaml.ScalarNode {
		d.errorf(n, "step: expected one of %s", strings.Join(stepKinds, ", "))
		return
	}
	st := Step{Pos: d.pos(k), Kind: k.Value}
	switch k.Value {
	case StepSay, StepPause:
		if rv := resolve(v); rv != nil && !isNull(rv) {
			d.str(v, k.Value, &st.Text)
		} else {
			d.errorAt(st.Pos, "%s: the text to show is missing", k.Value)
		}
	case StepSend:
		st.Send = d.send(v, st.Pos)
	case StepWait:
		st.Wait = d.wait(v, st.Pos)
	case StepExpect:
		st.Expect = d.expect(v, st.Pos)
	case StepSMTP:
		st.SMTP = d.dialogue(v, st.Pos)
	case StepPOP3:
		st.POP3 = d.pop3(v, st.Pos)
	case StepIMAP:
		st.IMAP = d.imap(v, st.Pos, sc.File)
	case StepStop, StepStart, StepFlush:
		d.str(v, k.Value, &st.Agent)
		if st.Agent == "" {
			d.errorAt(st.Pos, "%s: the agent's name is missing", k.Value)
		}
	default:
		d.errorf(k, "unknown step %q (known: %s)", k.Value, strings.Join(stepKinds, ", "))
		return
	}
	sc.Steps = append(sc.Steps, st)
}

var stepKinds = []string{StepSay, StepSend, StepWait, StepExpect, StepPause, StepSMTP, StepPOP3, StepIMAP, StepStop, StepStart, StepFlush}

// need reports the keys of want missing from seen, at p.
func (d *decoder) need(seen posMap, p Pos, what string, want ...string) {
	for _, key := range want {
		if _, has := seen[key]; !has {
			d.errorAt(p, "%s: %s is missing", what, key)
		}
	}
}

func (d *decoder) send(n *yaml.Node, p Pos) *Send {
	s := &Send{}
	seen, ok := d.mapping(n, "send", []field{
		{"as", func(v *yaml.Node) { d.str(v, "as", &s.As) }},
		{"via", func(v *yaml.Node) { d.str(v, "via", &s.Via) }},
		{"from", func(v *yaml.Node) { d.str(v, "from", &s.From) }},
		{"to", func(v *yaml.Node) { d.strs(v, "to", &s.To) }},
		{"cc", func(v *yaml.Node) { d.strs(v, "cc", &s.Cc) }},
		{"bcc", func(v *yaml.Node) { d.strs(v, "bcc", &s.Bcc) }},
		{"subject", func(v *yaml.Node) { d.str(v, "subject", &s.Subject) }},
		{"body", func(v *yaml.Node) { d.str(v, "body", &s.Body) }},
		{"expect", func(v *yaml.Node) { s.Expect = d.reply(v, "expect") }},
		{"port", func(v *yaml.Node) { d.str(v, "port", &s.Port) }},
		{"headers", func(v *yaml.Node) {
			d.pairs(v, "headers", func(k, v *yaml.Node) {
				var val string
				d.str(v, "headers: "+k.Value, &val)
				s.Headers = append(s.Headers, [2]string{k.Value, val})
			})
		}},
		{"tls", func(v *yaml.Node) { d.str(v, "tls", &s.TLS) }},
		{"auth", func(v *yaml.Node) {
			var b bool
			d.boolean(v, "auth", &b)
			s.Auth = &b
		}},
	})
	s.at = seen
	if ok {
		switch s.Port {
		case "", "smtp", "submission", "submissions":
		default:
			d.errorAt(seen["port"], "port: %q: give smtp (25), submission (587) or submissions (465)", s.Port)
		}
		switch {
		case s.TLS != "" && s.TLS != "starttls" && s.TLS != "none":
			d.errorAt(seen["tls"], "tls: %q: give starttls or none", s.TLS)
		case s.TLS != "" && s.Port == "submissions":
			d.errorAt(seen["tls"], "tls: submissions (465) is always TLS, from the first byte")
		}
	}
	if ok {
		d.need(seen, p, "send", "as", "via")
		if len(s.To)+len(s.Cc)+len(s.Bcc) == 0 {
			d.errorAt(p, "send: give at least one recipient (to, cc or bcc)")
		}
	}
	return s
}

func (d *decoder) wait(n *yaml.Node, p Pos) *Wait {
	w := &Wait{Count: 1, Timeout: DefaultWaitTimeout}
	seen, ok := d.mapping(n, "wait", []field{
		{"mailbox", func(v *yaml.Node) { d.str(v, "mailbox", &w.Mailbox) }},
		{"count", func(v *yaml.Node) { d.integer(v, "count", &w.Count) }},
		{"timeout", func(v *yaml.Node) { d.duration(v, "timeout", &w.Timeout) }},
		{"queue", func(v *yaml.Node) { d.str(v, "queue", &w.Queue) }},
		{"attempts", func(v *yaml.Node) { d.integer(v, "attempts", &w.Attempts) }},
		{"empty", func(v *yaml.Node) { d.boolean(v, "empty", &w.Empty) }},
	})
	w.at = seen
	if ok {
		_, hasMailbox := seen["mailbox"]
		_, hasQueue := seen["queue"]
		_, hasAttempts := seen["attempts"]
		switch {
		case hasMailbox == hasQueue:
			d.errorAt(p, "wait: give mailbox (a user's INBOX) or queue (an MTA's queue), not both")
		case hasQueue && (hasAttempts == w.Empty):
			d.errorAt(p, "wait: on a queue, give attempts: N or empty: true")
		case hasMailbox && (hasAttempts || w.Empty):
			d.errorAt(p, "wait: attempts and empty are for a queue, not a mailbox")
		}
	}
	return w
}

func (d *decoder) expect(n *yaml.Node, p Pos) *Expect {
	e := &Expect{Count: -1}
	seen, ok := d.mapping(n, "expect", []field{
		{"mailbox", func(v *yaml.Node) { d.str(v, "mailbox", &e.Mailbox) }},
		{"device", func(v *yaml.Node) { d.str(v, "device", &e.Device) }},
		{"folder", func(v *yaml.Node) { d.str(v, "folder", &e.Folder) }},
		{"count", func(v *yaml.Node) { d.integer(v, "count", &e.Count) }},
		{"message", func(v *yaml.Node) {
			if rv := resolve(v); rv != nil && rv.Kind == yaml.MappingNode {
				e.Ref = d.messageRef(v)
				return
			}
			d.integer(v, "message", &e.Message)
		}},
		{"flags", func(v *yaml.Node) { d.strs(v, "flags", &e.Flags) }},
		{"no_flags", func(v *yaml.Node) { d.strs(v, "no_flags", &e.NoFlags) }},
		{"maildir_flags", func(v *yaml.Node) {
			var f string
			if rv := resolve(v); rv != nil && isNull(rv) {
				e.MaildirFlags = &f // maildir_flags: (nothing) means none
				return
			}
			d.str(v, "maildir_flags", &f)
			e.MaildirFlags = &f
		}},
		{"headers", func(v *yaml.Node) {
			d.pairs(v, "headers", func(k, v *yaml.Node) {
				h := HeaderCheck{Pos: d.pos(k), Name: k.Value}
				d.str(v, "headers: "+k.Value, &h.Value)
				e.Headers = append(e.Headers, h)
			})
		}},
		{"header_count", func(v *yaml.Node) {
			d.pairs(v, "header_count", func(k, v *yaml.Node) {
				h := HeaderCount{Pos: d.pos(k), Name: k.Value}
				d.integer(v, "header_count: "+k.Value, &h.Count)
				e.HeaderCount = append(e.HeaderCount, h)
			})
		}},
	})
	e.at = seen
	if ok {
		_, hasMailbox := seen["mailbox"]
		_, hasDevice := seen["device"]
		switch {
		case !hasMailbox && !hasDevice:
			d.errorAt(p, "expect: give mailbox (what the server holds) or device (what an mua downloaded)")
		case hasMailbox && hasDevice:
			d.errorAt(seen["device"], "expect: give mailbox or device, not both")
		}
	}
	return e
}

// pairs walks a mapping of header names to values.
func (d *decoder) pairs(n *yaml.Node, what string, each func(k, v *yaml.Node)) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n != nil {
			d.errorf(n, "%s: expected a mapping of header names, found %s", what, kindName(n))
		}
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode || !validHeaderName(k.Value) {
			d.errorf(n.Content[i], "%s: %s is not a header field name", what, shown(n.Content[i]))
			continue
		}
		each(k, n.Content[i+1])
	}
}

// validHeaderName follows RFC 5322 section 2.2: printable ASCII but colon.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == ':' {
			return false
		}
	}
	return true
}

func (d *decoder) dialogue(n *yaml.Node, p Pos) *Dialogue {
	dl := &Dialogue{}
	seen, ok := d.mapping(n, "smtp", []field{
		{"as", func(v *yaml.Node) { d.str(v, "as", &dl.As) }},
		{"via", func(v *yaml.Node) { d.str(v, "via", &dl.Via) }},
		{"dialogue", func(v *yaml.Node) {
			d.list(v, "dialogue", func(item *yaml.Node) {
				if x, ok := d.exchange(item); ok {
					dl.Exchanges = append(dl.Exchanges, x)
				}
			})
		}},
	})
	dl.at = seen
	if ok {
		d.need(seen, p, "smtp", "as", "via", "dialogue")
	}
	return dl
}

// MaxLineBytes bounds a dialogue command; RFC 5321 section 4.5.3.1.4 says
// 512 octets with CRLF, but a lesson may send longer lines on purpose.
const MaxLineBytes = 4096

func (d *decoder) exchange(n *yaml.Node) (Exchange, bool) {
	x := Exchange{Pos: d.pos(resolve(n))}
	seen, ok := d.mapping(n, "dialogue line", []field{
		{"send", func(v *yaml.Node) { d.str(v, "send", &x.Send) }},
		{"data", func(v *yaml.Node) { d.str(v, "data", &x.Data); x.IsData = true }},
		{"data_size", func(v *yaml.Node) { d.size(v, "data_size", &x.DataSize); x.IsData = true }},
		{"expect", func(v *yaml.Node) { x.Expect = d.reply(v, "expect") }},
	})
	if !ok {
		return x, false
	}
	_, hasSend := seen["send"]
	_, hasData := seen["data"]
	_, hasSize := seen["data_size"]
	switch {
	case btoi(hasSend)+btoi(hasData)+btoi(hasSize) != 1:
		d.errorAt(x.Pos, "dialogue line: give exactly one of send, data, data_size")
	case hasSend && (strings.ContainsAny(x.Send, "\r\n") || len(x.Send) > MaxLineBytes):
		d.errorAt(seen["send"], "send: %s", fmt.Sprintf("one line of at most %d bytes, without line breaks", MaxLineBytes))
	}
	return x, true
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// boolean decodes true or false.
func (d *decoder) boolean(n *yaml.Node, what string, dst *bool) {
	n = resolve(n)
	if n == nil {
		return
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		d.errorf(n, "%s: expected true or false, found %s", what, shown(n))
		return
	}
	b, err := strconv.ParseBool(strings.ToLower(n.Value))
	if err != nil {
		d.errorf(n, "%s: expected true or false, found %s", what, shown(n))
		return
	}
	*dst = b
}

// messageRef decodes "message: 2", "message: {uid: 7}" or "message:
// {subject: Lunch}".
func (d *decoder) messageRef(n *yaml.Node) *MessageRef {
	rn := resolve(n)
	if rn == nil {
		return nil
	}
	r := &MessageRef{Pos: d.pos(rn)}
	if rn.Kind == yaml.ScalarNode && !isNull(rn) {
		v, err := strconv.Atoi(rn.Value)
		if err != nil || v < 1 || v > 1_000_000 {
			d.errorf(rn, "message: expected a position (1 is the oldest), {subject: ...} or {uid: ...}, found %s", shown(rn))
			return nil
		}
		r.Position = v
		return r
	}
	var uid int
	seen, ok := d.mapping(n, "message", []field{
		{"subject", func(v *yaml.Node) { d.str(v, "subject", &r.Subject); r.BySubj = true }},
		{"uid", func(v *yaml.Node) { d.integer(v, "uid", &uid) }},
	})
	if !ok {
		return nil
	}
	_, hasUID := seen["uid"]
	switch {
	case r.BySubj == hasUID:
		d.errorAt(r.Pos, "message: give exactly one of subject, uid")
		return nil
	case hasUID && uid < 1:
		d.errorAt(seen["uid"], "uid: UIDs start at 1")
		return nil
	}
	r.UID = uint32(uid)
	return r
}

var (
	pop3ReplyRE = regexp.MustCompile(`^-ERR(?:\s+\[([A-Za-z0-9/-]+)\])?$`)
	imapReplyRE = regexp.MustCompile(`^(NO|BAD)(?:\s+\[([A-Za-z0-9.-]+)\])?$`)
)

// serverReply decodes an expected refusal: "-ERR [IN-USE]" for POP3 (RFC
// 2449 section 8 codes), "NO [TRYCREATE]" for IMAP (RFC 3501 section 7.1).
func (d *decoder) serverReply(n *yaml.Node, proto string) *ServerReply {
	n = resolve(n)
	if n == nil {
		return nil
	}
	r := &ServerReply{Pos: d.pos(n)}
	v := strings.TrimSpace(n.Value)
	if proto == StepPOP3 {
		if m := pop3ReplyRE.FindStringSubmatch(v); n.Kind == yaml.ScalarNode && m != nil {
			r.Status, r.Code = "-ERR", strings.ToUpper(m[1])
			return r
		}
		d.errorf(n, "expect: expected counts such as {downloaded: 2}, or a refusal such as \"-ERR\" or \"-ERR [IN-USE]\", found %s", shown(n))
		return nil
	}
	if m := imapReplyRE.FindStringSubmatch(v); n.Kind == yaml.ScalarNode && m != nil {
		r.Status, r.Code = m[1], strings.ToUpper(m[2])
		return r
	}
	d.errorf(n, "expect: expected checks such as {count: 2}, or a refusal such as NO or \"NO [TRYCREATE]\", found %s", shown(n))
	return nil
}

func (d *decoder) pop3(n *yaml.Node, p Pos) *POP3 {
	s := &POP3{Delete: true}
	seen, ok := d.mapping(n, "pop3", []field{
		{"as", func(v *yaml.Node) { d.str(v, "as", &s.As) }},
		{"via", func(v *yaml.Node) { d.str(v, "via", &s.Via) }},
		{"delete", func(v *yaml.Node) { d.boolean(v, "delete", &s.Delete) }},
		{"apop", func(v *yaml.Node) { d.boolean(v, "apop", &s.APOP) }},
		{"tls", func(v *yaml.Node) { d.tlsMode(v, &s.TLS) }},
		{"expect", func(v *yaml.Node) {
			if rv := resolve(v); rv != nil && rv.Kind == yaml.MappingNode {
				s.Expect = d.pop3Expect(v)
				return
			}
			s.Refusal = d.serverReply(v, StepPOP3)
		}},
	})
	s.at = seen
	if ok {
		d.need(seen, p, "pop3", "as", "via")
	}
	return s
}

func (d *decoder) pop3Expect(n *yaml.Node) *POP3Expect {
	e := &POP3Expect{Downloaded: -1, Skipped: -1, Deleted: -1, Left: -1}
	e.at, _ = d.mapping(n, "pop3 expect", []field{
		{"downloaded", func(v *yaml.Node) { d.integer(v, "downloaded", &e.Downloaded) }},
		{"skipped", func(v *yaml.Node) { d.integer(v, "skipped", &e.Skipped) }},
		{"deleted", func(v *yaml.Node) { d.integer(v, "deleted", &e.Deleted) }},
		{"left", func(v *yaml.Node) { d.integer(v, "left", &e.Left) }},
	})
	return e
}

func (d *decoder) imap(n *yaml.Node, p Pos, file string) *IMAP {
	s := &IMAP{Timeout: DefaultWaitTimeout}
	seen, ok := d.mapping(n, "imap", []field{
		{"as", func(v *yaml.Node) { d.str(v, "as", &s.As) }},
		{"via", func(v *yaml.Node) { d.str(v, "via", &s.Via) }},
		{"do", func(v *yaml.Node) { d.str(v, "do", &s.Do) }},
		{"tls", func(v *yaml.Node) { d.tlsMode(v, &s.TLS) }},
		{"folder", func(v *yaml.Node) { d.str(v, "folder", &s.Folder) }},
		{"message", func(v *yaml.Node) { s.Message = d.messageRef(v) }},
		{"to", func(v *yaml.Node) { d.str(v, "to", &s.To) }},
		{"until", func(v *yaml.Node) { d.str(v, "until", &s.Until) }},
		{"timeout", func(v *yaml.Node) { d.duration(v, "timeout", &s.Timeout) }},
		{"while", func(v *yaml.Node) {
			inner := &Scenario{File: file}
			d.list(v, "while", func(item *yaml.Node) { d.step(item, inner) })
			s.While = inner.Steps
		}},
		{"expect", func(v *yaml.Node) {
			if rv := resolve(v); rv != nil && rv.Kind == yaml.MappingNode {
				s.Expect = d.imapExpect(v)
				return
			}
			s.Refusal = d.serverReply(v, StepIMAP)
		}},
	})
	s.at = seen
	if ok {
		d.need(seen, p, "imap", "as", "via", "do")
	}
	return s
}

func (d *decoder) imapExpect(n *yaml.Node) *IMAPExpect {
	e := &IMAPExpect{Count: -1}
	e.at, _ = d.mapping(n, "imap expect", []field{
		{"count", func(v *yaml.Node) { d.integer(v, "count", &e.Count) }},
		{"subjects", func(v *yaml.Node) { d.strs(v, "subjects", &e.Subjects); e.HasSubjects = true }},
		{"flags", func(v *yaml.Node) { d.strs(v, "flags", &e.Flags) }},
		{"no_flags", func(v *yaml.Node) { d.strs(v, "no_flags", &e.NoFlags) }},
	})
	return e
}

// tlsMode decodes how a reading session protects itself.
func (d *decoder) tlsMode(n *yaml.Node, dst *string) {
	d.str(n, "tls", dst)
	switch *dst {
	case "", "starttls", "implicit":
	case "none":
		*dst = ""
	default:
		d.errorf(resolve(n), "tls: %q: give starttls, implicit or none", *dst)
		*dst = ""
	}
}

// sieveError reports a mistake in an inline Sieve script at its place in
// the scenario file: the script's line and column, counted from where the
// YAML value starts (the line after "|" for a block scalar).
func (d *decoder) sieveError(n *yaml.Node, err error) {
	var se *sieve.Error
	if !errors.As(err, &se) {
		d.errorf(n, "sieve: %v", err)
		return
	}
	line, col := n.Line+se.Line-1, n.Column+se.Col-1
	if n.Style == yaml.LiteralStyle || n.Style == yaml.FoldedStyle {
		line = n.Line + se.Line
		col = se.Col + d.indentOf(n.Line+1)
	}
	d.errorAt(Pos{File: d.file, Line: line, Col: col}, "sieve: %s", se.Msg)
}

// indentOf returns the indentation of line (1-based) of the file.
func (d *decoder) indentOf(line int) int {
	lines := strings.SplitN(string(d.data), "\n", line+1)
	if line-1 >= len(lines) {
		return 0
	}
	l := lines[line-1]
	return len(l) - len(strings.TrimLeft(l, " "))
}

// aliases decodes {team: [bob, carol], sales: team}.
func (d *decoder) aliases(n *yaml.Node) map[string][]string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n != nil {
			d.errorf(n, "aliases: expected a mapping such as {team: [bob, carol]}, found %s", kindName(n))
		}
		return nil
	}
	out := map[string][]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode || k.Value == "" {
			d.errorf(n.Content[i], "aliases: keys are addresses or local parts")
			continue
		}
		if _, dup := out[k.Value]; dup {
			d.errorf(k, "aliases: %q repeated", k.Value)
			continue
		}
		var targets []string
		d.strs(n.Content[i+1], "aliases: "+k.Value, &targets)
		if len(targets) == 0 {
			d.errorf(k, "aliases: %s stands for nobody", k.Value)
		}
		out[k.Value] = targets
	}
	return out
}
