package mta

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/smtp/smtpserver"
)

// Policy says for whom an MTA relays: accepts mail whose recipient is in a
// domain that is not its own, to pass it on.
type Policy string

const (
	// PolicyClosed relays only for clients in TrustedNets and for users
	// who authenticated: how every MTA on the internet should be set up
	// (RFC 5321 section 3.6.2, RFC 2505, RFC 5068).
	PolicyClosed Policy = "closed"
	// PolicyOpen relays for anyone. An open relay is what spammers look
	// for: it lends them its good name and its bandwidth. The lab has one
	// so a class can watch it being abused.
	PolicyOpen Policy = "open"
	// PolicySmarthost relays for listed client hosts (TrustedNets) and
	// listed users (RelayUsers) only, and refuses everyone else: the
	// provider's outgoing server an office MTA sends everything through.
	PolicySmarthost Policy = "smarthost"
)

// mayRelay decides whether the client of info may send mail to to, a
// recipient in another domain. It returns nil or the refusal, and notes
// why in the transcript either way.
//
//	C: RCPT TO:<victim@c.example>
//	S: 550 5.7.1 <victim@c.example>: Relay access denied
func (m *MTA) mayRelay(info *smtpserver.ConnInfo, to mail.Path) error {
	ip := clientIP(info.RemoteAddr)
	who := "[" + ip.String() + "]"
	if m.cfg.QueueDir == "" || m.cfg.LocalOnly {
		info.Tracer.Note(fmt.Sprintf("%s is not in this MTA's domains and it sends no mail out: relaying refused (RFC 5321 section 3.6.2)", to.Bracketed()))
		return m.relayRefusal(to)
	}
	if m.cfg.Policy == PolicyOpen {
		info.Tracer.Note(fmt.Sprintf("OPEN RELAY: accepting mail for %s, not one of its domains, from %s, a client it neither trusts nor authenticated. Any spammer can do the same (RFC 5321 section 3.6.2, RFC 2505)", to.Bracketed(), who))
		return nil
	}
	for _, n := range m.trusted {
		if n.Contains(ip) {
			info.Tracer.Note(fmt.Sprintf("relaying to %s for %s: the client is in the trusted network %s", to.Bracketed(), who, n))
			return nil
		}
	}
	if user := info.User; user != "" {
		if m.relayTo == nil || m.relayTo[strings.ToLower(user)] {
			info.Tracer.Note(fmt.Sprintf("relaying to %s for %s: authenticated as %s", to.Bracketed(), who, user))
			return nil
		}
		info.Tracer.Note(fmt.Sprintf("relaying to %s refused: %s authenticated as %s, who is not on this smarthost's list", to.Bracketed(), who, user))
		return m.relayRefusal(to)
	}
	what := "is neither in its trusted networks nor authenticated"
	if m.cfg.Policy == PolicySmarthost {
		what = "is not on this smarthost's list of client hosts and did not authenticate"
	}
	info.Tracer.Note(fmt.Sprintf("relaying refused: %s is not in this MTA's domains, and the client %s %s (RFC 5321 section 3.6.2)", to.Bracketed(), who, what))
	return m.relayRefusal(to)
}

// relayRefusal is the reply that refuses to relay to to: 550 5.7.1 by
// default, or the 554 / 454 a scenario chose.
func (m *MTA) relayRefusal(to mail.Path) error {
	enh := "5.7.1"
	if m.cfg.RelayRefusal == 454 {
		enh = "4.7.1" // Postfix's defer_unauth_destination: try again later
	}
	return smtp.Errorf(smtp.Code(m.cfg.RelayRefusal), enh, "%s: Relay access denied", to.Bracketed())
}

// clientIP returns the address of a TCP peer, or the zero Addr.
func clientIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}
