package smtp

import "strconv"

// State is where an SMTP (or LMTP) session stands. Servers report every
// change to the transcript (wire.Tracer.State), so a class reads
// "Ready -> Mail" next to the MAIL command that caused it.
type State int

const (
	// StateConnected: the greeting was sent; HELO, EHLO (LMTP: LHLO) is
	// expected first (RFC 5321 section 4.1.4).
	StateConnected State = iota
	// StateReady: the client has introduced itself; no transaction is open.
	StateReady
	// StateMail: MAIL FROM was accepted; recipients come next.
	StateMail
	// StateRcpt: at least one RCPT TO was accepted; more, or DATA.
	StateRcpt
	// StateData: the message text is being received, until "." alone.
	StateData
	// StateClosed: QUIT was answered or the connection ended.
	StateClosed
)

// String returns the state's name: "Connected", "Ready", "Mail"...
func (s State) String() string {
	switch s {
	case StateConnected:
		return "Connected"
	case StateReady:
		return "Ready"
	case StateMail:
		return "Mail"
	case StateRcpt:
		return "Rcpt"
	case StateData:
		return "Data"
	case StateClosed:
		return "Closed"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}
