package mua

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/maillab/maillab/protocols/pop3"
	"github.com/maillab/maillab/protocols/pop3/pop3client"
)

// POP3Options say how a device downloads its mail.
type POP3Options struct {
	// Delete marks every message the device has (downloaded now or
	// before) deleted, so the server removes it at QUIT: the usual default
	// of POP clients, and why a second device finds an empty maildrop.
	// False leaves the mail on the server.
	Delete bool
	// APOP logs in with APOP (an MD5 digest of the greeting's timestamp
	// and the password, RFC 1939 section 7) instead of USER and PASS.
	APOP bool
	// TLS: STLS before logging in (RFC 2595 section 4), or POP3S from the
	// first byte (port 995, RFC 8314).
	TLS TLSMode
	// Seen holds unique-ids the device already has, besides those in its
	// local store from the same server and user: a leave-on-server client
	// compares them with UIDL and downloads only the others (RFC 1939
	// section 8).
	Seen map[string]bool
}

// POP3Result is what a POP3 session did.
type POP3Result struct {
	// Messages were downloaded in this session, in maildrop order; they
	// are in the local store too.
	Messages []LocalMessage
	// Skipped counts the messages on the server the device had already
	// (by UIDL), which it did not download again.
	Skipped int
	// Deleted counts the messages the server removed at QUIT.
	Deleted int
	// LeftOnServer counts the messages still on the server after the
	// session (mail delivered during it not counted). After an error
	// before QUIT the server deleted nothing (RFC 1939 section 6), and
	// it counts them all.
	LeftOnServer int
}

// FetchPOP3 downloads user's mail from the POP3 server at server
// ("127.0.0.1:1100") into the device's local store (Local):
//
//	C: USER bob / PASS ***         (or APOP bob <digest>)
//	C: STAT                        how many messages, how many octets
//	C: UIDL                        their unique-ids
//	C: RETR n                      each message the device does not have
//	C: DELE n                      each one it has, with Delete
//	C: QUIT                        the UPDATE state: deletions happen now
//
// A server without UIDL (it is optional) gets LIST instead, and then
// every message is downloaded. The messages downloaded before an error
// stay in the local store and in the result, which is nil only when no
// session started. ctx bounds the whole exchange.
func (m *MUA) FetchPOP3(ctx context.Context, server, user, password string, opts POP3Options) (*POP3Result, error) {
	copts := pop3client.Options{BeforeCommand: m.beforeCommand(ctx)}
	var c *pop3client.Client
	var err error
	var tcfg *tls.Config
	if opts.TLS != TLSNone {
		if tcfg, err = m.tlsFor(server); err != nil {
			return nil, err
		}
	}
	if opts.TLS == TLSImplicit {
		c, err = pop3client.DialTLS(ctx, m.dialerFor("pop3"), server, tcfg, copts)
	} else {
		c, err = pop3client.Dial(ctx, m.dialerFor("pop3"), server, copts)
	}
	if err != nil {
		return nil, m.fail("POP3", err)
	}
	defer c.Close()
	if opts.TLS == TLSStartTLS {
		if err := c.StartTLS(tcfg); err != nil {
			return nil, m.fail("POP3", err)
		}
	}
	// Closing the connection when ctx ends unblocks any read.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	res := &POP3Result{}
	fail := func(err error) (*POP3Result, error) {
		if ctx.Err() != nil && !errors.Is(err, context.Cause(ctx)) {
			err = fmt.Errorf("%w (stopped: %w)", err, context.Cause(ctx))
		}
		return res, m.fail("POP3", err)
	}
	if opts.APOP {
		err = c.APOP(user, password)
	} else {
		err = c.Login(user, password)
	}
	if err != nil {
		return fail(err)
	}
	count, _, err := c.Stat()
	if err != nil {
		return fail(err)
	}
	res.LeftOnServer = count

	// RFC 1939 section 7: UIDL is optional; without it a client cannot
	// tell which messages it has already.
	type entry struct {
		n   int
		uid string
	}
	var drop []entry
	uids, err := c.UIDL()
	var perr *pop3.Error
	switch {
	case err == nil:
		for _, u := range uids {
			drop = append(drop, entry{u.Number, u.UID})
		}
	case errors.As(err, &perr):
		list, err := c.List()
		if err != nil {
			return fail(err)
		}
		for _, l := range list {
			drop = append(drop, entry{n: l.Number})
		}
	default:
		return fail(err)
	}

	deleted := 0
	for _, e := range drop {
		if e.uid != "" && (opts.Seen[e.uid] || m.hasLocal(server, user, e.uid)) {
			res.Skipped++
		} else {
			raw, err := c.Retr(e.n)
			if err != nil {
				return fail(err)
			}
			l := newLocal(server, user, e.uid, raw)
			m.keep(l)
			res.Messages = append(res.Messages, l)
		}
		if opts.Delete {
			if err := c.Dele(e.n); err != nil {
				return fail(err)
			}
			deleted++
		}
	}
	// RFC 1939 section 6: only QUIT in the TRANSACTION state removes the
	// messages marked deleted; a dropped connection removes none.
	if err := c.Quit(); err != nil {
		return fail(err)
	}
	res.Deleted = deleted
	res.LeftOnServer = count - deleted
	return res, nil
}
