package scenarios

// The LDA in a lab: when an MDA's users have delivery rules (a Sieve
// script, forwarding, a quota) or the MDA has aliases, the MDA hands each
// recipient to an agents/lda LDA, which decides where the message goes and
// says so in the transcript.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/maillab/maillab/agents/lda"
	"github.com/maillab/maillab/agents/mda"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/smtp/smtpclient"
)

// needsLDA says whether MDA a delivers through an LDA.
func (sc *Scenario) needsLDA(a *Agent) bool {
	if len(a.Aliases) > 0 {
		return true
	}
	for i := range sc.Users {
		u := &sc.Users[i]
		if containsFold(a.Domains, domainOf(u.Address)) && u.hasRules() {
			return true
		}
	}
	return false
}

// deliverer builds the LDA of MDA a, or returns nil when it needs none.
func (l *Lab) deliverer(a *Agent) (mda.Deliverer, error) {
	if !l.sc.needsLDA(a) {
		return nil, nil
	}
	users := map[string]lda.User{}
	for i := range l.sc.Users {
		u := &l.sc.Users[i]
		if !containsFold(a.Domains, domainOf(u.Address)) {
			continue
		}
		users[strings.ToLower(u.Address)] = lda.User{
			Sieve:          u.script,
			Forward:        u.Forward,
			KeepCopy:       u.KeepCopy,
			Quota:          u.Quota,
			QuotaTemporary: u.QuotaTemporary,
		}
	}
	d, err := lda.New(lda.Config{
		Store:    l.store,
		Hostname: a.hostname(l.sc),
		Users:    users,
		Aliases:  a.aliasTable(),
		Submit:   l.submitter(a),
		Now:      l.opts.Now,
		StateDir: filepath.Join(l.dir, "lda", a.Name),
	})
	if err != nil {
		return nil, fmt.Errorf("the LDA of %s: %w", a.Name, err)
	}
	return d, nil
}

// submitter returns how MDA a's LDA hands mail back to the MTA of its
// domain (for redirect, forward, external alias targets and vacation
// replies): an SMTP session from the MDA's host, recorded like any other.
func (l *Lab) submitter(a *Agent) func(ctx context.Context, from string, to []string, msg []byte) error {
	var mtaName string
	for _, b := range l.sc.Agents {
		if isMTAKind(b.Kind) && b.DeliverTo == a.Name {
			mtaName = b.Name
			break
		}
	}
	host := a.hostname(l.sc)
	return func(ctx context.Context, from string, to []string, msg []byte) error {
		if mtaName == "" {
			return fmt.Errorf("no MTA delivers to %s, so it cannot send mail on", a.Name)
		}
		server, err := l.endpoint(mtaName, "smtp")
		if err != nil {
			return err
		}
		d := &net.Dialer{Timeout: 30 * time.Second}
		if ip, ok := l.net.ip[a.Name]; ok {
			d.LocalAddr = &net.TCPAddr{IP: ip.AsSlice()}
		}
		dial := l.rec.Dialer(a.Name, "smtp", d.DialContext)
		c, err := smtpclient.Dial(ctx, dial, server, smtpclient.Options{LocalName: host, CommandTimeout: time.Minute})
		if err != nil {
			return err
		}
		defer c.Close()
		var fromPath mail.Path
		if from != "" {
			if fromPath, err = mail.ParseAddress(from); err != nil {
				return err
			}
		}
		var rcpts []mail.Path
		for _, t := range to {
			p, err := mail.ParseAddress(t)
			if err != nil {
				return err
			}
			rcpts = append(rcpts, p)
		}
		res, err := c.SendMail(fromPath, rcpts, bytes.NewReader(msg), smtp.MailParams{Size: int64(len(msg))})
		if err != nil {
			return err
		}
		_ = c.Quit()
		for _, e := range res.Refused {
			return e
		}
		return nil
	}
}
