package imapserver

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/maillab/maillab/protocols/imap"
	"github.com/maillab/maillab/protocols/wire"
)

// Capabilities lists what the server announces (RFC 3501 section 6.1.1),
// in CAPABILITY responses and the greeting's code.
const Capabilities = "IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS MOVE NAMESPACE ENABLE ID UNSELECT AUTH=PLAIN"

// nargs checks the argument count of a command.
func nargs(cmd *imap.Command, min, max int) error {
	if n := len(cmd.Args); n < min || n > max {
		switch {
		case min == max && min == 0:
			return imap.Bad("%s takes no arguments", cmd.Name)
		case min == max:
			return imap.Bad("%s takes %d argument(s), got %d", cmd.Name, min, n)
		}
		return imap.Bad("%s takes %d to %d arguments, got %d", cmd.Name, min, max, n)
	}
	return nil
}

// astring reads argument i as an astring, naming what it is for errors.
func astring(cmd *imap.Command, i int, what string) (string, error) {
	s, ok := cmd.Args[i].AString()
	if !ok {
		return "", imap.Bad("%s: %s must be a string, not a list", cmd.Name, what)
	}
	return s, nil
}

// mailboxArg reads a mailbox name (RFC 3501 section 5.1: INBOX is
// case-insensitive).
func mailboxArg(cmd *imap.Command, i int) (string, error) {
	s, err := astring(cmd, i, "the mailbox name")
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", imap.Bad("%s: empty mailbox name", cmd.Name)
	}
	return imap.CanonicalMailbox(s), nil
}

// cmdCapability lists the capabilities (RFC 3501 section 6.1.1).
//
//	C: a1 CAPABILITY
//	S: * CAPABILITY IMAP4rev1 LITERAL+ ... AUTH=PLAIN
//	S: a1 OK CAPABILITY completed
func (c *conn) cmdCapability(cmd *imap.Command) error {
	if err := nargs(cmd, 0, 0); err != nil {
		return err
	}
	c.untagged("CAPABILITY %s", c.capabilities())
	return nil
}

// cmdNoop does nothing but report changes (RFC 3501 section 6.1.2).
//
//	C: a2 NOOP
//	S: * 23 EXISTS
//	S: a2 OK NOOP completed
func (c *conn) cmdNoop(cmd *imap.Command) error { return nargs(cmd, 0, 0) }

// cmdLogout ends the session (RFC 3501 section 6.1.3).
//
//	C: a3 LOGOUT
//	S: * BYE Logging out
//	S: a3 OK LOGOUT completed
func (c *conn) cmdLogout(cmd *imap.Command) error {
	if err := nargs(cmd, 0, 0); err != nil {
		return err
	}
	c.untagged("BYE Logging out")
	c.respond(cmd.Tag, &imap.Error{Status: imap.OK, Text: "LOGOUT completed"})
	c.bw.Flush()
	c.setState(imap.StateLogout)
	c.quit = true
	return nil
}

// cmdID exchanges implementation details (RFC 2971 section 3.1).
//
//	C: a4 ID ("name" "mutt")
//	S: * ID ("name" "maillab")
//	S: a4 OK ID completed
func (c *conn) cmdID(cmd *imap.Command) error {
	if err := nargs(cmd, 1, 1); err != nil {
		return err
	}
	a := cmd.Args[0]
	switch {
	case a.Kind == imap.ArgAtom && strings.EqualFold(a.Text, "NIL"):
	case a.Kind == imap.ArgList:
		// RFC 2971 section 3.3: pairs of strings, at most 30 of them.
		if len(a.List)%2 != 0 || len(a.List) > 60 {
			return imap.Bad("ID wants NIL or a list of up to 30 field-value pairs")
		}
		var fields []string
		for i, e := range a.List {
			s, ok := e.AString()
			if !ok || (i%2 == 0 && !e.IsString()) {
				return imap.Bad("ID fields are strings, values strings or NIL")
			}
			if i%2 == 0 {
				fields = append(fields, s)
			} else if e.IsString() {
				fields[len(fields)-1] += "=" + s
			}
		}
		c.tr.Note("client ID: " + strings.Join(fields, ", "))
	default:
		return imap.Bad("ID wants NIL or a list of field-value pairs")
	}
	c.untagged(`ID ("name" "maillab" "vendor" "maillab")`)
	return nil
}

// cmdLogin checks a user name and password (RFC 3501 section 6.2.3).
// While LOGINDISABLED is announced (TLS offered, not active) it is
// refused with "NO [PRIVACYREQUIRED]"; a password sent as a literal is
// refused before the "+" that would let it cross.
//
//	C: a5 LOGIN bob secret
//	S: a5 OK [CAPABILITY IMAP4rev1 ...] Logged in
func (c *conn) cmdLogin(cmd *imap.Command) error {
	// The tap masks the LOGIN line itself; a literal password was marked
	// secret before its "+" (continueLiteral).
	c.tr.Mark(wire.ClientToServer, wire.MarkNone)
	if err := nargs(cmd, 2, 2); err != nil {
		return err
	}
	if c.loginDisabled() {
		return c.refuseInClear("LOGIN")
	}
	user, err := astring(cmd, 0, "the user name")
	if err != nil {
		return err
	}
	pass, err := astring(cmd, 1, "the password")
	if err != nil {
		return err
	}
	return c.login(user, pass)
}

func (c *conn) login(user, pass string) error {
	u, err := c.srv.backend.Login(user, pass)
	if err != nil {
		if errors.Is(err, ErrAuthFailed) {
			c.loginFailed()
			// RFC 5530 section 3: AUTHENTICATIONFAILED.
			return imap.Errorf(imap.NO, imap.CodeAuthenticationFailed, "Invalid user name or password")
		}
		return err
	}
	c.user = u
	c.setState(imap.StateAuthenticated)
	c.tr.Note("logged in as " + u.Name())
	return ok("CAPABILITY "+c.capabilities(), "Logged in")
}

// loginFailed notes a failed login in the transcript and waits
// AuthFailDelay before the NO goes out, the responses before it flushed
// first; Shutdown cuts the wait short.
func (c *conn) loginFailed() {
	d := c.opts.AuthFailDelay
	c.tr.Note(fmt.Sprintf("login failed (error %d of %d allowed), answered after %v", c.errors+1, c.opts.MaxErrors, max(d, 0)))
	if d <= 0 {
		return
	}
	c.bw.Flush()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.srv.loop.Stopping():
	}
}

// cmdAuthenticate runs SASL PLAIN (RFC 3501 section 6.2.2, RFC 4616), with
// an initial response (RFC 4959) or after an empty "+" challenge.
//
//	C: a6 AUTHENTICATE PLAIN
//	S: +
//	C: AGJvYgBzZWNyZXQ=
//	S: a6 OK [CAPABILITY ...] Logged in
func (c *conn) cmdAuthenticate(cmd *imap.Command) error {
	if err := nargs(cmd, 1, 2); err != nil {
		return err
	}
	mech, _ := cmd.Args[0].AString()
	if !strings.EqualFold(mech, "PLAIN") {
		return imap.Errorf(imap.NO, imap.CodeCannot, "Unsupported mechanism %q; this server offers AUTH=PLAIN", mech)
	}
	if c.loginDisabled() {
		// Before the "+": a client waiting for it sends nothing. An
		// initial response (SASL-IR) already crossed in clear; it is not
		// even decoded.
		return c.refuseInClear("AUTHENTICATE")
	}
	var resp string
	if len(cmd.Args) == 2 {
		resp, _ = cmd.Args[1].AString()
		if resp == "=" { // RFC 4959 section 3: "=" is an empty response
			resp = ""
		}
	} else {
		c.tr.Mark(wire.ClientToServer, wire.MarkSecret)
		c.writeString("+ \r\n")
		line, err := wire.ReadLine(c.br, c.opts.MaxLineBytes)
		c.tr.Mark(wire.ClientToServer, wire.MarkNone)
		if err != nil {
			if errors.Is(err, wire.ErrLineTooLong) {
				return imap.Bad("Authentication response too long")
			}
			c.readFailed(err)
			return nil
		}
		resp = string(line)
		// RFC 3501 section 6.2.2: "*" cancels, answered with BAD.
		if resp == "*" {
			return imap.Bad("Authentication cancelled")
		}
	}
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		return imap.Bad("Authentication response is not base64")
	}
	// RFC 4616 section 2: [authzid] NUL authcid NUL passwd.
	parts := bytes.Split(raw, []byte{0})
	if len(parts) != 3 {
		return imap.Bad("PLAIN response must be authzid NUL user NUL password")
	}
	if len(parts[0]) > 0 && !bytes.Equal(parts[0], parts[1]) {
		return imap.Errorf(imap.NO, "AUTHORIZATIONFAILED", "Acting as another user is not allowed")
	}
	return c.login(string(parts[1]), string(parts[2]))
}

// cmdCreate creates a mailbox (RFC 3501 section 6.3.3).
//
//	C: a7 CREATE Archive/2024
//	S: a7 OK CREATE completed
func (c *conn) cmdCreate(cmd *imap.Command) error {
	if err := nargs(cmd, 1, 1); err != nil {
		return err
	}
	name, err := mailboxArg(cmd, 0)
	if err != nil {
		return err
	}
	// RFC 3501 section 6.3.3: a trailing delimiter only says a hierarchy
	// is meant; the name is created without it.
	name = strings.TrimSuffix(name, "/")
	if name == "INBOX" {
		return imap.Errorf(imap.NO, imap.CodeAlreadyExists, "INBOX always exists")
	}
	return c.user.Create(name)
}

// cmdDelete deletes a mailbox (RFC 3501 section 6.3.4).
//
//	C: a8 DELETE Archive/2024
//	S: a8 OK DELETE completed
func (c *conn) cmdDelete(cmd *imap.Command) error {
	if err := nargs(cmd, 1, 1); err != nil {
		return err
	}
	name, err := mailboxArg(cmd, 0)
	if err != nil {
		return err
	}
	if name == "INBOX" {
		return imap.Errorf(imap.NO, imap.CodeCannot, "INBOX cannot be deleted")
	}
	return c.user.Delete(name)
}

// cmdRename renames a mailbox (RFC 3501 section 6.3.5).
//
//	C: a9 RENAME Drafts Old-Drafts
//	S: a9 OK RENAME completed
func (c *conn) cmdRename(cmd *imap.Command) error {
	if err := nargs(cmd, 2, 2); err != nil {
		return err
	}
	from, err := mailboxArg(cmd, 0)
	if err != nil {
		return err
	}
	to, err := mailboxArg(cmd, 1)
	if err != nil {
		return err
	}
	if to == "INBOX" {
		return imap.Errorf(imap.NO, imap.CodeAlreadyExists, "INBOX always exists")
	}
	return c.user.Rename(from, to)
}

// cmdSubscribe adds a mailbox to the LSUB list (RFC 3501 section 6.3.6).
//
//	C: b1 SUBSCRIBE Archive
//	S: b1 OK SUBSCRIBE completed
func (c *conn) cmdSubscribe(cmd *imap.Command) error {
	if err := nargs(cmd, 1, 1); err != nil {
		return err
	}
	name, err := mailboxArg(cmd, 0)
	if err != nil {
		return err
	}
	return c.user.Subscribe(name)
}

// cmdUnsubscribe removes a mailbox from the LSUB list (section 6.3.7).
//
//	C: b2 UNSUBSCRIBE Archive
//	S: b2 OK UNSUBSCRIBE completed
func (c *conn) cmdUnsubscribe(cmd *imap.Command) error {
	if err := nargs(cmd, 1, 1); err != nil {
		return err
	}
	name, err := mailboxArg(cmd, 0)
	if err != nil {
		return err
	}
	return c.user.Unsubscribe(name)
}

// cmdList lists mailboxes (RFC 3501 sections 6.3.8 LIST and 6.3.9 LSUB).
//
//	C: b3 LIST "" *
//	S: * LIST () "/" INBOX
//	S: b3 OK LIST completed
func (c *conn) cmdList(cmd *imap.Command) error {
	if err := nargs(cmd, 2, 2); err != nil {
		return err
	}
	ref, err := astring(cmd, 0, "the reference")
	if err != nil {
		return err
	}
	pattern, err := astring(cmd, 1, "the mailbox pattern")
	if err != nil {
		return err
	}
	if pattern == "" && cmd.Name == "LIST" {
		// RFC 3501 section 6.3.8: an empty pattern asks for the hierarchy
		// delimiter and the root of the reference.
		root := ""
		if i := strings.IndexByte(ref, '/'); i >= 0 {
			root = ref[:i+1]
		}
		c.untagged(`LIST (\Noselect) "/" %s`, imap.AString(root))
		return nil
	}
	boxes, err := c.user.List(ref, pattern, cmd.Name == "LSUB")
	if err != nil {
		return err
	}
	for _, b := range boxes {
		c.untagged(`%s (%s) "/" %s`, cmd.Name, strings.Join(b.Attributes, " "), imap.AString(b.Name))
	}
	return nil
}

// cmdStatus reports on a mailbox without selecting it (section 6.3.10).
//
//	C: b4 STATUS INBOX (MESSAGES UNSEEN)
//	S: * STATUS INBOX (MESSAGES 3 UNSEEN 1)
//	S: b4 OK STATUS completed
func (c *conn) cmdStatus(cmd *imap.Command) error {
	if err := nargs(cmd, 2, 2); err != nil {
		return err
	}
	name, err := mailboxArg(cmd, 0)
	if err != nil {
		return err
	}
	items := cmd.Args[1]
	if items.Kind != imap.ArgList || len(items.List) == 0 {
		return imap.Bad("STATUS wants a list of items, e.g. (MESSAGES UNSEEN)")
	}
	names := make([]string, len(items.List))
	for i, it := range items.List {
		names[i] = strings.ToUpper(it.Text)
		switch names[i] {
		case "MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN":
		default:
			return imap.Bad("Unknown STATUS item %s; use MESSAGES, RECENT, UIDNEXT, UIDVALIDITY or UNSEEN", it)
		}
	}
	st, err := c.user.Status(name)
	if err != nil {
		return err
	}
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := map[string]uint32{"MESSAGES": st.Messages, "RECENT": st.Recent, "UIDNEXT": st.UIDNext, "UIDVALIDITY": st.UIDValidity, "UNSEEN": st.Unseen}[n]
		b.WriteString(n + " " + itoa(v))
	}
	c.untagged("STATUS %s (%s)", imap.AString(name), b.String())
	return nil
}

// cmdAppend stores a message (RFC 3501 section 6.3.11) and names its UID
// (RFC 4315 section 3, APPENDUID).
//
//	C: b5 APPEND Drafts (\Draft) "01-Feb-1994 10:00:00 +0000" {310}
//	S: + Ready for literal data
//	C: (310 octets)
//	S: b5 OK [APPENDUID 1 7] APPEND completed
func (c *conn) cmdAppend(cmd *imap.Command) error {
	if err := nargs(cmd, 2, 4); err != nil {
		return err
	}
	name, err := mailboxArg(cmd, 0)
	if err != nil {
		return err
	}
	msg := cmd.Args[len(cmd.Args)-1]
	if msg.Kind != imap.ArgLiteral {
		return imap.Bad("APPEND wants the message as a literal {size}, after the optional flags and date")
	}
	var flags []string
	var date time.Time
	for _, a := range cmd.Args[1 : len(cmd.Args)-1] {
		switch {
		case a.Kind == imap.ArgList && flags == nil:
			if flags, err = imap.ParseFlags([]imap.Arg{a}); err != nil {
				return imap.Bad("APPEND flags: %s", trimPkg(err))
			}
		case a.Kind == imap.ArgQuoted && date.IsZero():
			if date, err = imap.ParseDateTime(a.Text); err != nil {
				return imap.Bad("APPEND date: %s", trimPkg(err))
			}
		default:
			return imap.Bad("APPEND mailbox [(flags)] [\"date-time\"] {size}: unexpected %s", a)
		}
	}
	if date.IsZero() {
		date = time.Now()
	}
	v, uid, err := c.user.Append(name, flags, date, msg.Bytes)
	if err != nil {
		if errors.Is(err, ErrNoSuchMailbox) {
			// RFC 3501 section 6.3.11: TRYCREATE if creating it would help.
			return imap.Errorf(imap.NO, imap.CodeTryCreate, "No such mailbox %s", name)
		}
		return err
	}
	c.tr.Note("message appended to " + name + " with UID " + itoa(uid))
	return ok("APPENDUID "+itoa(v)+" "+itoa(uid), "APPEND completed")
}

// cmdNamespace names the one personal namespace (RFC 2342 section 5).
//
//	C: b6 NAMESPACE
//	S: * NAMESPACE (("" "/")) NIL NIL
//	S: b6 OK NAMESPACE completed
func (c *conn) cmdNamespace(cmd *imap.Command) error {
	if err := nargs(cmd, 0, 0); err != nil {
		return err
	}
	c.untagged(`NAMESPACE (("" "/")) NIL NIL`)
	return nil
}

// cmdEnable enables extensions (RFC 5161 section 3.1). None of what this
// server offers needs enabling, so the answer is always an empty ENABLED:
// a server must not enable what it does not support (section 3.2).
//
//	C: b7 ENABLE CONDSTORE
//	S: * ENABLED
//	S: b7 OK ENABLE completed
func (c *conn) cmdEnable(cmd *imap.Command) error {
	if len(cmd.Args) == 0 {
		return imap.Bad("ENABLE wants at least one capability name")
	}
	for _, a := range cmd.Args {
		if a.Kind != imap.ArgAtom {
			return imap.Bad("ENABLE wants capability names, not %s", a)
		}
	}
	c.untagged("ENABLED")
	return nil
}

func itoa(n uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// trimPkg drops the "imap: " prefix of a parser error for the client.
func trimPkg(err error) string { return strings.TrimPrefix(err.Error(), "imap: ") }
