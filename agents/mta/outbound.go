package mta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/maillab/maillab/agents/queue"
	"github.com/maillab/maillab/protocols/dns/dnsclient"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/smtp/smtpclient"
	"github.com/maillab/maillab/protocols/smtp/smtpserver"
	"github.com/maillab/maillab/protocols/wire"
)

// Outbound delivery, RFC 5321 section 5: the MTA keeps the message in its
// queue, looks up the MX records of each recipient's domain, tries the
// exchangers in order of preference and each one's addresses in turn, and
// carries all the recipients of one domain in one SMTP session.
//
//	(note: mail for b.example: MX 10 mx.b.example)
//	MTA a.example --SMTP--> mx.b.example: EHLO, MAIL, RCPT..., DATA
//	(note: delivered to <bob@b.example> by mx.b.example: 250 2.0.0 Ok: queued as B0001)
//
// A 4yz reply, a refused connection or a DNS timeout defers the recipient
// (the queue tries again later); a 5yz reply, a domain that does not exist
// or a null MX fails it, and the queue bounces it to the sender.

// serverOptions are the SMTP server's options.
func (m *MTA) serverOptions(md mode) smtpserver.Options {
	o := smtpserver.Options{
		Hostname:        m.cfg.Hostname,
		MaxMessageBytes: m.cfg.MaxMessageBytes,
		MaxRecipients:   m.cfg.MaxRecipients,
		TLSConfig:       m.cfg.TLS,
	}
	if len(m.cfg.Passwords) > 0 {
		// SMTP AUTH (RFC 4954), only under TLS when the MTA has TLS
		// (RFC 4954 section 4: 538 before it), unless a scenario allows
		// it in clear to show the danger. Without TLS at all the password
		// crosses the loopback in base64, as the transcript points out.
		o.Authenticator = smtpserver.Passwords(m.cfg.Passwords)
		o.AllowInsecureAuth = m.cfg.TLS == nil || (m.cfg.PlaintextAuth && md == modeRelay)
	}
	switch md {
	case modeSubmission:
		o.RequireAuth = true
	case modeSubmissions:
		o.RequireAuth = true
		o.ImplicitTLS = true
	}
	return o
}

func (m *MTA) openQueue() (*queue.Queue, error) {
	rec := m.cfg.Recorder
	q, err := queue.Open(queue.Options{
		Dir:      m.cfg.QueueDir,
		Name:     m.cfg.Name,
		Hostname: m.cfg.Hostname,
		Schedule: m.cfg.Retry,
		MaxAge:   m.cfg.MaxAge,
		Now:      m.cfg.Now,
		IDs:      m.cfg.IDs,
		Deliver:  m.deliver,
		Hold:     m.cfg.Gate,
		Note: func(id, text string) {
			if rec != nil {
				rec.Note(m.cfg.Name, "queue "+id+": "+text)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("mta %s: queue: %w", m.cfg.Name, err)
	}
	return q, nil
}

// enqueue writes the message to the queue, for every recipient, before the
// 250 that makes the MTA responsible for it (RFC 5321 section 4.2.5, 6.1).
func (s *session) enqueue(full []byte) error {
	var rcpts []string
	rcpts = append(rcpts, s.boxes...)
	rcpts = append(rcpts, s.remote...)
	from := ""
	if !s.from.IsNull() {
		from = s.from.String()
	}
	if err := s.m.q.Put(s.qid, from, rcpts, full); err != nil {
		if errors.Is(err, queue.ErrFull) {
			return smtp.Errorf(smtp.C452TooManyRecipients, "4.3.1", "Insufficient system storage: the queue is full")
		}
		return smtp.Errorf(smtp.C451LocalError, "4.3.0", "Queue file write error, try again later")
	}
	s.info.Tracer.Note(fmt.Sprintf("written to the queue, to be delivered to %s: queued as %s", strings.Join(bracketAll(rcpts), ", "), s.qid))
	return smtp.Errorf(smtp.C250OK, "2.0.0", "Ok: queued as %s", s.qid)
}

func bracketAll(addrs []string) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = "<" + a + ">"
	}
	return out
}

// countReceived counts the Received fields in the header of msg.
func countReceived(msg []byte) int {
	head := msg
	if end := mail.HeaderEnd(msg); end >= 0 && end <= len(msg) {
		head = msg[:end]
	}
	n := 0
	for line := range bytes.SplitSeq(head, []byte("\n")) {
		if len(line) >= 9 && strings.EqualFold(string(line[:9]), "received:") {
			n++
		}
	}
	return n
}

// deliver is the queue's Deliverer: one attempt for rcpts of qm. Local
// recipients go to the MDA over LMTP; the others are grouped by domain (or
// all sent to the smarthost), one SMTP session per destination.
func (m *MTA) deliver(ctx context.Context, qm *queue.Message, body []byte, rcpts []string) []queue.Result {
	from := mail.Path{}
	if qm.From != "" {
		p, err := mail.ParseAddress(qm.From)
		if err != nil {
			return failAll(rcpts, false, "5.1.7", "X-Maillab; bad sender address in the queue: "+err.Error(), "")
		}
		from = p
	}
	var out []queue.Result
	var local []string
	groups := map[string][]string{}
	var order []string
	for _, r := range rcpts {
		p, err := mail.ParseAddress(r)
		if err != nil {
			out = append(out, queue.Result{Rcpt: r, Status: "5.1.3", Diagnostic: "X-Maillab; bad recipient address: " + err.Error()})
			continue
		}
		if m.isLocal(p) {
			local = append(local, r)
			continue
		}
		key := p.DomainFold()
		if m.cfg.Smarthost != "" {
			key = "" // everything through the smarthost
		}
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], r)
	}
	if len(local) > 0 {
		out = append(out, m.deliverLocal(qm.ID, from, local, body)...)
	}
	for _, key := range order {
		if m.cfg.LocalOnly {
			// A bounce to a sender in another domain, from an MTA that
			// sends no mail out.
			out = append(out, failAll(groups[key], false, "5.4.4", "X-Maillab; this MTA sends no mail to other domains (no dns agent in the lab)", "")...)
			continue
		}
		out = append(out, m.deliverRemote(ctx, qm.ID, from, key, groups[key], body)...)
	}
	return out
}

// deliverLocal hands the message to the MDA for recipients in the MTA's
// own domains.
func (m *MTA) deliverLocal(qid string, from mail.Path, rcpts []string, body []byte) []queue.Result {
	var out []queue.Result
	boxOf := map[string][]string{} // box -> recipients
	var boxes []string
	for _, r := range rcpts {
		p, _ := mail.ParseAddress(r) // parsed by the caller
		box, err := m.route(p)
		if err != nil {
			out = append(out, resultOf(r, err, m.cfg.Hostname))
			continue
		}
		if _, ok := boxOf[box]; !ok {
			boxes = append(boxes, box)
		}
		boxOf[box] = append(boxOf[box], r)
	}
	if len(boxes) == 0 {
		return out
	}
	refused, err := m.handOff(qid, from, smtp.MailParams{}, boxes, body)
	for _, box := range boxes {
		e := err
		if e == nil {
			e = refused[box]
		}
		for _, r := range boxOf[box] {
			if e == nil {
				out = append(out, queue.Result{Rcpt: r, Delivered: true, Status: "2.0.0"})
				continue
			}
			out = append(out, resultOf(r, e, ""))
		}
	}
	return out
}

// resultOf turns a refusal into a queue result.
func resultOf(rcpt string, err error, host string) queue.Result {
	e := asReply(err)
	if e == nil {
		return queue.Result{Rcpt: rcpt, Temporary: true, Status: "4.4.2", Diagnostic: "X-Maillab; " + err.Error(), RemoteMTA: host}
	}
	st := e.Enhanced
	if st == "" {
		st = fmt.Sprintf("%d.0.0", e.Code/100)
	}
	return queue.Result{
		Rcpt:       rcpt,
		Temporary:  e.Temporary(),
		Status:     st,
		Diagnostic: fmt.Sprintf("smtp; %d %s %s", e.Code, st, strings.ReplaceAll(e.Message, "\n", " ")),
		RemoteMTA:  host,
	}
}

func failAll(rcpts []string, temporary bool, status, diag, host string) []queue.Result {
	out := make([]queue.Result, len(rcpts))
	for i, r := range rcpts {
		out[i] = queue.Result{Rcpt: r, Temporary: temporary, Status: status, Diagnostic: diag, RemoteMTA: host}
	}
	return out
}

// exchanger is a host to try, in order.
type exchanger struct {
	host string // name, for notes and Remote-MTA
	port int
	ips  []netip.Addr // when known without DNS
}

// exchangers finds the hosts that take mail for domain (RFC 5321 section
// 5.1): the MX hosts by preference; none listed means the domain itself
// (the implicit MX); a null MX (RFC 7505) means the domain takes no mail.
// Or the smarthost, for all. When there is none to try, it returns the
// result for every recipient instead.
func (m *MTA) exchangers(ctx context.Context, qid, domain string) ([]exchanger, *queue.Result) {
	if m.cfg.Smarthost != "" {
		host, port := m.cfg.Smarthost, m.cfg.SMTPPort
		if h, p, err := net.SplitHostPort(host); err == nil {
			if n, err := strconv.Atoi(p); err == nil {
				host, port = h, n
			}
		}
		x := exchanger{host: host, port: port}
		if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
			x.ips = []netip.Addr{ip}
		}
		m.note(qid, fmt.Sprintf("all outbound mail goes through the smarthost %s", m.cfg.Smarthost))
		return []exchanger{x}, nil
	}
	if strings.HasPrefix(domain, "[") && strings.HasSuffix(domain, "]") {
		// An address literal (RFC 5321 section 4.1.3): no DNS, the
		// address itself is the host (section 5.1).
		lit := strings.TrimSuffix(strings.TrimPrefix(domain, "["), "]")
		if v6, ok := strings.CutPrefix(lit, "IPv6:"); ok {
			lit = v6
		}
		ip, err := netip.ParseAddr(lit)
		if err != nil || strings.Contains(lit, "%") {
			return nil, &queue.Result{Status: "5.1.2", Diagnostic: "X-Maillab; bad address literal " + domain}
		}
		m.note(qid, fmt.Sprintf("%s is an address literal: no DNS lookup, straight to that address (RFC 5321 section 5.1)", domain))
		return []exchanger{{host: domain, port: m.cfg.SMTPPort, ips: []netip.Addr{ip.Unmap()}}}, nil
	}
	if m.cfg.Resolver == nil {
		return nil, &queue.Result{Temporary: true, Status: "4.4.3", Diagnostic: "X-Maillab; no DNS resolver configured: cannot look up MX records"}
	}
	mxs, err := m.cfg.Resolver.LookupMX(ctx, domain)
	switch {
	case errors.Is(err, dnsclient.ErrNXDomain):
		// RFC 3463 5.1.2: bad destination system address.
		return nil, &queue.Result{Status: "5.1.2", Diagnostic: "X-Maillab; Host or domain name not found: " + domain + " does not exist (NXDOMAIN)"}
	case err != nil:
		return nil, &queue.Result{Temporary: true, Status: "4.4.3", Diagnostic: "X-Maillab; DNS lookup of MX for " + domain + " failed: " + err.Error()}
	}
	if len(mxs) == 0 {
		m.note(qid, fmt.Sprintf("%s has no MX record: trying the domain itself, the implicit MX (RFC 5321 section 5.1)", domain))
		return []exchanger{{host: domain, port: m.cfg.SMTPPort}}, nil
	}
	if len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "") {
		return nil, &queue.Result{Status: "5.1.10", Diagnostic: "X-Maillab; " + domain + " has a null MX: it accepts no mail (RFC 7505)"}
	}
	// RFC 5321 section 5.1: an MTA that finds itself among the MX hosts
	// keeps only those with a lower preference than its own (a backup MX
	// hands mail to the primary); if none is left, the mail loops.
	for _, mx := range mxs {
		if strings.EqualFold(strings.TrimSuffix(mx.Host, "."), m.cfg.Hostname) {
			var better []dnsclient.MX
			for _, x := range mxs {
				if x.Preference < mx.Preference {
					better = append(better, x)
				}
			}
			if len(better) == 0 {
				return nil, &queue.Result{Status: "5.4.6", Diagnostic: fmt.Sprintf("X-Maillab; mail for %s loops back to myself: I am its best MX (%s)", domain, m.cfg.Hostname)}
			}
			m.note(qid, fmt.Sprintf("this MTA is MX %d for %s itself: only the MX hosts with a lower preference remain (RFC 5321 section 5.1)", mx.Preference, domain))
			mxs = better
			break
		}
	}
	var list []string
	var out []exchanger
	for _, mx := range mxs {
		list = append(list, fmt.Sprintf("MX %d %s", mx.Preference, mx.Host))
		out = append(out, exchanger{host: strings.TrimSuffix(mx.Host, "."), port: m.cfg.SMTPPort})
	}
	m.note(qid, fmt.Sprintf("mail for %s goes to %s, lowest preference first (RFC 5321 section 5.1)", domain, strings.Join(list, ", ")))
	return out, nil
}

func (m *MTA) note(qid, text string) {
	if m.cfg.Recorder != nil {
		m.cfg.Recorder.Note(m.cfg.Name, "queue "+qid+": "+text)
	}
}

// deliverRemote makes one attempt to deliver body to rcpts, all in domain
// (or all for the smarthost when domain is "").
func (m *MTA) deliverRemote(ctx context.Context, qid string, from mail.Path, domain string, rcpts []string, body []byte) []queue.Result {
	xs, fail := m.exchangers(ctx, qid, domain)
	if fail != nil {
		return failAll(rcpts, fail.Temporary, fail.Status, fail.Diagnostic, "")
	}
	lastDiag, lastStatus := "", "4.4.1"
	for _, x := range xs {
		ips := x.ips
		if ips == nil {
			if m.cfg.Resolver == nil {
				lastDiag = "X-Maillab; no DNS resolver to find the address of " + x.host
				continue
			}
			var err error
			ips, err = m.cfg.Resolver.LookupIP(ctx, x.host)
			if err != nil || len(ips) == 0 {
				lastDiag = fmt.Sprintf("X-Maillab; no address for %s: %v", x.host, errOr(err, "no A or AAAA record"))
				lastStatus = "4.4.3"
				continue
			}
		}
		for _, ip := range ips {
			if ip == m.cfg.LocalIP && ip.IsValid() && !ip.IsUnspecified() {
				// Postfix: "mail for b.example loops back to myself".
				m.note(qid, fmt.Sprintf("%s is this MTA's own address: mail for %s loops back to myself", x.host, domain))
				return failAll(rcpts, false, "5.4.6", fmt.Sprintf("X-Maillab; mail for %s loops back to myself (%s)", domain, x.host), x.host)
			}
			addr := net.JoinHostPort(ip.String(), strconv.Itoa(x.port))
			res, diag := m.session(ctx, qid, from, x.host, addr, rcpts, body)
			if res != nil {
				return res
			}
			lastDiag, lastStatus = diag, "4.4.1"
			if ctx.Err() != nil {
				return failAll(rcpts, true, lastStatus, lastDiag, x.host)
			}
		}
	}
	if lastDiag == "" {
		lastDiag = "X-Maillab; no host to deliver to"
	}
	return failAll(rcpts, true, lastStatus, lastDiag, "")
}

func errOr(err error, s string) string {
	if err != nil {
		return err.Error()
	}
	return s
}

// session delivers over one SMTP connection to addr. It returns nil and a
// diagnostic when the host could not be used at all (no connection, a
// refusing greeting, a broken session before MAIL), so the next host is
// tried; otherwise one result per recipient.
func (m *MTA) session(ctx context.Context, qid string, from mail.Path, host, addr string, rcpts []string, body []byte) ([]queue.Result, string) {
	d := &net.Dialer{Timeout: m.cfg.OutboundTimeout}
	if m.cfg.LocalIP.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: m.cfg.LocalIP.AsSlice()}
	}
	dial := d.DialContext
	if m.cfg.Recorder != nil {
		dial = m.cfg.Recorder.Dialer(m.cfg.Name, "smtp", d.DialContext)
	}
	var tr wire.Tracer
	c, err := smtpclient.Dial(ctx, func(ctx context.Context, network, a string) (net.Conn, error) {
		conn, err := dial(ctx, network, a)
		if err == nil {
			tr = wire.TracerOf(conn)
			if tr != nil {
				tr.QueueID(qid)
			}
		}
		return conn, err
	}, addr, smtpclient.Options{
		LocalName:      m.cfg.Hostname,
		CommandTimeout: m.cfg.OutboundTimeout,
		DataTimeout:    m.cfg.OutboundTimeout,
		FinalTimeout:   m.cfg.OutboundTimeout,
	})
	if err != nil {
		diag := fmt.Sprintf("X-Maillab; connect to %s[%s]: %v", host, addr, shortErr(err))
		m.note(qid, diag[len("X-Maillab; "):])
		return nil, diag
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	if err := c.Hello(""); err != nil {
		_ = c.Quit()
		return nil, fmt.Sprintf("X-Maillab; %s[%s] refused EHLO/HELO: %v", host, addr, shortErr(err))
	}
	if m.cfg.ClientTLS != nil && c.HasExtension("STARTTLS") {
		// Opportunistic TLS between MTAs (RFC 3207, RFC 7435): used when
		// offered, with the peer's certificate checked against the lab CA.
		cfg := m.cfg.ClientTLS.Clone()
		cfg.ServerName = strings.Trim(host, "[]")
		if err := c.StartTLS(cfg); err != nil {
			return nil, fmt.Sprintf("X-Maillab; TLS with %s[%s] failed: %v", host, addr, shortErr(err))
		}
		if err := c.Hello(""); err != nil {
			_ = c.Quit()
			return nil, fmt.Sprintf("X-Maillab; %s[%s] refused EHLO after STARTTLS: %v", host, addr, shortErr(err))
		}
	}
	if err := c.Mail(from, smtp.MailParams{Size: int64(len(body))}); err != nil {
		if e := asReply(err); e != nil {
			_ = c.Quit()
			return failAll(rcpts, e.Temporary(), statusOf(e), diagOf(e), host), ""
		}
		return nil, fmt.Sprintf("X-Maillab; lost connection with %s[%s] while sending MAIL FROM", host, addr)
	}
	results := make([]queue.Result, 0, len(rcpts))
	var accepted []string
	for _, r := range rcpts {
		p, _ := mail.ParseAddress(r)
		if err := c.Rcpt(p); err != nil {
			e := asReply(err)
			if e == nil {
				return failAll(rcpts, true, "4.4.2", fmt.Sprintf("X-Maillab; lost connection with %s[%s] while sending RCPT TO", host, addr), host), ""
			}
			results = append(results, queue.Result{Rcpt: r, Temporary: e.Temporary(), Status: statusOf(e), Diagnostic: diagOf(e), RemoteMTA: host})
			continue
		}
		accepted = append(accepted, r)
	}
	if len(accepted) == 0 {
		_ = c.Quit()
		return results, ""
	}
	reply, err := c.Cmd("DATA")
	if err == nil && reply.Code == 354 {
		reply, err = c.SendData(bytes.NewReader(body))
	}
	if err == nil && reply.Class() != 2 {
		if err = reply.Err(); err == nil {
			err = smtp.Errorf(smtp.C451LocalError, "4.5.0", "unexpected reply %q", reply.String())
		}
	}
	if err != nil {
		e := asReply(err)
		if e == nil {
			// RFC 5321 section 6.1: without the final reply the message is
			// not delivered; trying again may give a duplicate, never a loss.
			return append(results, failAll(accepted, true, "4.4.2", fmt.Sprintf("X-Maillab; lost connection with %s[%s] while sending the message", host, addr), host)...), ""
		}
		_ = c.Quit()
		return append(results, failAll(accepted, e.Temporary(), statusOf(e), diagOf(e), host)...), ""
	}
	_ = c.Quit()
	for _, r := range accepted {
		results = append(results, queue.Result{Rcpt: r, Delivered: true, Status: "2.0.0", Diagnostic: "smtp; " + reply.String(), RemoteMTA: host})
	}
	return results, ""
}

func statusOf(e *smtp.Error) string {
	if e.Enhanced != "" {
		return e.Enhanced
	}
	return fmt.Sprintf("%d.0.0", e.Code/100)
}

func diagOf(e *smtp.Error) string {
	if e.Enhanced != "" {
		return fmt.Sprintf("smtp; %d %s %s", e.Code, e.Enhanced, strings.ReplaceAll(e.Message, "\n", " "))
	}
	return fmt.Sprintf("smtp; %d %s", e.Code, strings.ReplaceAll(e.Message, "\n", " "))
}

// shortErr drops the dial noise ("dial tcp 127.0.0.1:0->...: connect:") a
// class does not need.
func shortErr(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		s := op.Err.Error()
		if i := strings.LastIndex(s, ": "); i >= 0 {
			return s[i+2:]
		}
		return s
	}
	return err.Error()
}
