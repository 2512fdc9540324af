// Package netconn holds the connection lifecycle the maillab servers and
// clients share, so that each protocol package keeps only its protocol:
//
//   - Loop accepts connections on any number of listeners, runs one Session
//     per connection on its own goroutine, refuses clients over MaxConns
//     with the protocol's own line, and shuts everything down: listeners
//     closed, idle sessions woken, busy ones allowed to finish, and after
//     the caller's deadline every connection closed.
//   - Conn is a served connection as its session sees it: reads and writes
//     with a deadline, and reads that Shutdown can interrupt.
//   - LingerClose ends a connection the server chose to end without losing
//     its last reply.
//   - Dial opens a client's connection and starts its session, both bounded
//     by a context.
//
// It imports nothing of maillab's: the protocol packages (smtpserver,
// pop3server, imapserver and their clients) import it.
//
// # Standards
//
// None of its own. What it implements is what RFC 5321 section 3.8, RFC
// 3206 section 4 and RFC 3501 section 7.1.5 let a server do at any time:
// send one last line (421, "-ERR [SYS/TEMP]", "* BYE") and close. The line
// is the caller's; this package only decides when it is sent.
//
// # Security
//
// A Loop never holds more than MaxConns sessions: a client over the bound
// is written one line under a write deadline and closed, on a goroutine
// that Shutdown waits for too. A temporary accept failure (out of file
// descriptors) is waited out with a backoff of 5 ms doubling up to 1 s,
// as net/http does, instead of spinning; Shutdown cuts the wait short.
//
// # Limits
//
// LingerClose reads and drops at most 64 KiB for at most 2 seconds. Each
// connection costs one small Conn (a mutex and a flag) besides its session.
// Shutdown wakes only sessions blocked in a read marked idle (Conn.Read
// with idle set): a session busy elsewhere notices Shutdown when it next
// asks (Loop.ShuttingDown) or reads.
package netconn
