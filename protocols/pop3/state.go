package pop3

import "strconv"

// State is where a POP3 session stands (RFC 1939 section 3). The server
// reports every change to the transcript (wire.Tracer.State), so a class
// reads "Authorization -> Transaction" next to the PASS that caused it.
type State int

const (
	// StateAuthorization: the greeting was sent; the client must identify
	// itself with USER and PASS, APOP or AUTH (RFC 1939 section 4).
	StateAuthorization State = iota
	// StateTransaction: the maildrop is locked and open; STAT, LIST, RETR,
	// DELE... (RFC 1939 section 5).
	StateTransaction
	// StateUpdate: QUIT was sent in the TRANSACTION state; the messages
	// marked deleted are removed, the lock released and the connection
	// closed (RFC 1939 section 6).
	StateUpdate
)

// String returns the state's name: "Authorization", "Transaction", "Update".
func (s State) String() string {
	switch s {
	case StateAuthorization:
		return "Authorization"
	case StateTransaction:
		return "Transaction"
	case StateUpdate:
		return "Update"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}
