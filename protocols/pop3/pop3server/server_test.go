package pop3server

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/maillab/maillab/protocols/netconn/netconntest"
	"github.com/maillab/maillab/protocols/pop3"
)

// hookBackend is a MemoryBackend whose maildrops can be made to misbehave.
type hookBackend struct {
	*MemoryBackend
	open     func(i int) (io.ReadCloser, error) // replaces Open
	update   func(deleted []int) error          // replaces Update
	messages func() ([]MessageInfo, error)      // replaces Messages
	login    func() error                       // runs before Login
}

func (b *hookBackend) Login(user, pass string) (Maildrop, error) {
	if b.login != nil {
		if err := b.login(); err != nil {
			return nil, err
		}
	}
	d, err := b.MemoryBackend.Login(user, pass)
	if err != nil {
		return nil, err
	}
	return &hookDrop{Maildrop: d, b: b}, nil
}

type hookDrop struct {
	Maildrop
	b *hookBackend
}

func (d *hookDrop) Open(i int) (io.ReadCloser, error) {
	if d.b.open != nil {
		return d.b.open(i)
	}
	return d.Maildrop.Open(i)
}

func (d *hookDrop) Update(deleted []int) error {
	if d.b.update != nil {
		return d.b.update(deleted)
	}
	return d.Maildrop.Update(deleted)
}

func (d *hookDrop) Messages() ([]MessageInfo, error) {
	if d.b.messages != nil {
		return d.b.messages()
	}
	return d.Maildrop.Messages()
}

func TestGreetingCarriesAPOPTimestamp(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK maillab POP3 server ready <1896.697170952@dbc.mtview.ca.us>")
}

func TestDefaultTimestampsDiffer(t *testing.T) {
	_, addr := startServer(t, Options{AuthFailDelay: -1, Hostname: "pop.example.test"}, bobBackend())
	a := dial(t, addr).expect("+OK ")
	b := dial(t, addr).expect("+OK ")
	tsA, okA := pop3.GreetingTimestamp(a)
	tsB, okB := pop3.GreetingTimestamp(b)
	if !okA || !okB || tsA == tsB || !strings.HasSuffix(tsA, "@pop.example.test>") {
		t.Errorf("greetings %q and %q: want two different <...@pop.example.test> timestamps", a, b)
	}
}

func TestUserPass(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("user bob")
	tc.expect("+OK send PASS")
	tc.send("PASS secret")
	tc.expect("+OK bob's maildrop has 2 messages (")
}

func TestPassWithSpacesIsOnePassword(t *testing.T) {
	b := &MemoryBackend{}
	b.AddUser("bob", "correct horse battery")
	_, addr := startServer(t, testOptions(), b)
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("USER bob", "PASS correct horse battery")
	tc.expect("+OK ")
	tc.expect("+OK bob's maildrop has 0 messages (0 octets)")
}

func TestPassWrongPasswordIsAuthError(t *testing.T) {
	b := bobBackend()
	_, addr := startServer(t, testOptions(), b)
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("USER bob", "PASS wrong")
	tc.expect("+OK ")
	tc.expect("-ERR [AUTH] invalid user name or password")
	tc.send("USER nobody", "PASS secret")
	tc.expect("+OK ")
	tc.expect("-ERR [AUTH] invalid user name or password")
	if b.Locked("bob") {
		t.Error("bob's maildrop is locked after a failed login")
	}
}

func TestPassWithoutUser(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("PASS secret")
	tc.expect("-ERR send USER first")
}

func TestPassMustFollowUserImmediately(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("USER bob", "CAPA", "PASS secret")
	tc.expect("+OK send PASS")
	tc.expectMulti("+OK Capability")
	tc.expect("-ERR send USER first")
}

func TestUserWithoutName(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("USER")
	tc.expect("-ERR usage: USER name")
}

func TestAPOPWithTheRFCExample(t *testing.T) {
	b := &MemoryBackend{}
	b.AddUser("mrose", "tanstaaf")
	b.Deliver("mrose", []byte("Subject: hi\r\n\r\nhello\r\n"))
	_, addr := startServer(t, testOptions(), b)
	tc := dial(t, addr)
	tc.expect("+OK maillab POP3 server ready <1896.697170952@dbc.mtview.ca.us>")
	tc.send("APOP mrose c4c9334bac560ecc979e58001b3e22fb")
	tc.expect("+OK mrose's maildrop has 1 messages (22 octets)")
}

func TestAPOPWrongDigest(t *testing.T) {
	b := &MemoryBackend{}
	b.AddUser("mrose", "tanstaaf")
	_, addr := startServer(t, testOptions(), b)
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("APOP mrose 00000000000000000000000000000000")
	tc.expect("-ERR [AUTH] ")
}

func TestAPOPBadArguments(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("APOP bob", "APOP bob xyz")
	tc.expect("-ERR usage: APOP name digest")
	tc.expect("-ERR APOP digest must be 32 hexadecimal digits")
}

func plain(authz, user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + user + "\x00" + pass))
}

func TestAuthPlainWithContinuation(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("AUTH PLAIN")
	if got := tc.line(); got != "+ " {
		t.Fatalf("got %q, want the empty challenge \"+ \"", got)
	}
	tc.send(plain("", "bob", "secret"))
	tc.expect("+OK bob's maildrop has 2 messages")
}

func TestAuthPlainWithInitialResponse(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("AUTH PLAIN " + plain("bob", "bob", "secret"))
	tc.expect("+OK bob's maildrop has 2 messages")
}

func TestAuthPlainFailures(t *testing.T) {
	_, addr := startServer(t, Options{AuthFailDelay: -1, MaxAuthFailures: 10}, bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("AUTH PLAIN " + plain("", "bob", "wrong"))
	tc.expect("-ERR [AUTH] ")
	tc.send("AUTH PLAIN " + plain("alice", "bob", "secret"))
	tc.expect("-ERR [AUTH] ")
	tc.send("AUTH PLAIN not-base64!")
	tc.expect("-ERR SASL response is not valid base64")
	tc.send("AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("no nuls")))
	tc.expect("-ERR PLAIN response must be")
	tc.send("AUTH CRAM-MD5")
	tc.expect("-ERR unsupported SASL mechanism CRAM-MD5")
	tc.send("AUTH PLAIN")
	tc.expect("+ ")
	tc.send("*")
	tc.expect("-ERR authentication cancelled")
}

func TestAuthWithoutArgumentListsMechanisms(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("AUTH")
	if diff := cmp.Diff([]string{"PLAIN"}, tc.expectMulti("+OK ")); diff != "" {
		t.Errorf("AUTH (-want +got):\n%s", diff)
	}
}

func TestCapaInBothStates(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	want := []string{"TOP", "USER", "SASL PLAIN", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UIDL", "IMPLEMENTATION maillab"}
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("CAPA")
	if diff := cmp.Diff(want, tc.expectMulti("+OK Capability list follows")); diff != "" {
		t.Errorf("CAPA before login (-want +got):\n%s", diff)
	}
	tc.send("USER bob", "PASS secret", "CAPA")
	tc.expect("+OK ")
	tc.expect("+OK ")
	if diff := cmp.Diff(want, tc.expectMulti("+OK Capability list follows")); diff != "" {
		t.Errorf("CAPA after login (-want +got):\n%s", diff)
	}
	tc.send("CAPA now")
	tc.expect("-ERR CAPA takes no argument")
}

func TestCapaAdvertisesExpireOnlyWhenSet(t *testing.T) {
	opts := testOptions()
	opts.Expire = "NEVER"
	_, addr := startServer(t, opts, bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("CAPA")
	caps := tc.expectMulti("+OK ")
	if !strings.Contains(strings.Join(caps, "\n"), "\nEXPIRE NEVER\n") {
		t.Errorf("CAPA = %q, want EXPIRE NEVER", caps)
	}
}

func TestStat(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := login(t, addr)
	tc.send("STAT")
	tc.expect("+OK 2 " + itoa(len(msg1)+len(msg2)))
	tc.send("STAT 1")
	tc.expect("-ERR STAT takes no argument")
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestList(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := login(t, addr)
	tc.send("LIST")
	want := []string{"1 " + itoa(len(msg1)), "2 " + itoa(len(msg2))}
	if diff := cmp.Diff(want, tc.expectMulti("+OK 2 messages (")); diff != "" {
		t.Errorf("LIST (-want +got):\n%s", diff)
	}
	tc.send("LIST 2")
	tc.expect("+OK 2 " + itoa(len(msg2)))
}

func TestListFailures(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := login(t, addr)
	tc.send("LIST 3", "LIST 0", "LIST x", "LIST 1 2")
	tc.expect("-ERR no such message, only 2 messages in maildrop")
	tc.expect("-ERR syntax error: message numbers start at 1")
	tc.expect("-ERR syntax error: message number \"x\": not a decimal number")
	tc.expect("-ERR usage: LIST [message-number]")
}

func TestRetrIsDotStuffed(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := login(t, addr)
	tc.send("RETR 2")
	want := []string{"From: carol@example.test", "Subject: two", "", "line 1", "..dotted line", "line 3"}
	if diff := cmp.Diff(want, tc.expectMulti("+OK "+itoa(len(msg2))+" octets")); diff != "" {
		t.Errorf("RETR 2 on the wire (-want +got):\n%s", diff)
	}
}

func TestRetrFailures(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := login(t, addr)
	tc.send("RETR", "RETR 9", "RETR -1")
	tc.expect("-ERR usage: RETR message-number")
	tc.expect("-ERR no such message")
	tc.expect("-ERR syntax error: message number \"-1\"")
}

func TestRetrWithoutFinalNewline(t *testing.T) {
	b := &MemoryBackend{}
	b.AddUser("bob", "secret")
	b.Deliver("bob", []byte("Subject: x\r\n\r\nno newline at the end"))
	_, addr := startServer(t, testOptions(), b)
	tc := login(t, addr)
	tc.send("RETR 1")
	want := []string{"Subject: x", "", "no newline at the end"}
	if diff := cmp.Diff(want, tc.expectMulti("+OK ")); diff != "" {
		t.Errorf("RETR (-want +got):\n%s", diff)
	}
}

func TestTopZeroLinesGivesHeaderAndBlankLine(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := login(t, addr)
	tc.send("TOP 2 0")
	want := []string{"From: carol@example.test", "Subject: two", ""}
	if diff := cmp.Diff(want, tc.expectMulti("+OK top of message follows")); diff != "" {
		t.Errorf("TOP 2 0 (-want +got):\n%s", diff)
	}
}

func TestTopSomeLines(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := login(t, addr)
	tc.send("TOP 2 2", "TOP 1 99")
	want := []string{"From: carol@example.test", "Subject: two", "", "line 1", "..dotted line"}
	if diff := cmp.Diff(want, tc.expectMulti("+OK ")); diff != "" {
		t.Errorf("TOP 2 2 (-want +got):\n%s", diff)
	}
	want = []string{"From: alice@example.test", "Subject: one", "", "Hello Bob."}
	if diff := cmp.Diff(want, tc.expectMulti("+OK ")); diff != "" {
		t.Errorf("TOP 1 99 (-want +got):\n%s", diff)
	}
}

func TestTopFailures(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := login(t, addr)
	tc.send("TOP 1", "TOP 1 -1", "TOP 3 0")
	tc.expect("-ERR usage: TOP message-number lines")
	tc.expect("-ERR syntax error: line count \"-1\"")
	tc.expect("-ERR no such message")
}

func TestDeleAndReferencingADeletedMessage(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := login(t, addr)
	tc.send("DELE 2")
	tc.expect("+OK message 2 deleted")
	tc.send("DELE 2", "RETR 2", "LIST 2", "TOP 2 0", "UIDL 2", "DELE")
	for range 5 {
		tc.expect("-ERR message 2 already deleted")
	}
	tc.expect("-ERR usage: DELE message-number")
	tc.send("STAT", "LIST")
	tc.expect("+OK 1 " + itoa(len(msg1)))
	if diff := cmp.Diff([]string{"1 " + itoa(len(msg1))}, tc.expectMulti("+OK 1 messages")); diff != "" {
		t.Errorf("LIST after DELE 2 (-want +got):\n%s", diff)
	}
}

func TestNoop(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := login(t, addr)
	tc.send("NOOP", "NOOP x")
	if got := tc.line(); got != "+OK" {
		t.Errorf("NOOP: got %q, want \"+OK\"", got)
	}
	tc.expect("-ERR NOOP takes no argument")
}

func TestRsetUnmarks(t *testing.T) {
	b := bobBackend()
	_, addr := startServer(t, testOptions(), b)
	tc := login(t, addr)
	tc.send("DELE 1", "RSET", "RETR 1", "RSET x")
	tc.expect("+OK ")
	tc.expect("+OK maildrop has 2 messages (")
	tc.expectMulti("+OK ")
	tc.expect("-ERR RSET takes no argument")
	tc.quit()
	if n := len(b.Messages("bob")); n != 2 {
		t.Errorf("after DELE, RSET, QUIT: %d messages, want 2", n)
	}
}

func TestUIDL(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := login(t, addr)
	tc.send("UIDL", "UIDL 2", "UIDL 3", "UIDL 1 2")
	if diff := cmp.Diff([]string{"1 mem-1", "2 mem-2"}, tc.expectMulti("+OK ")); diff != "" {
		t.Errorf("UIDL (-want +got):\n%s", diff)
	}
	tc.expect("+OK 2 mem-2")
	tc.expect("-ERR no such message")
	tc.expect("-ERR usage: UIDL [message-number]")
}

func TestDeletionsHappenOnlyOnQuit(t *testing.T) {
	b := bobBackend()
	_, addr := startServer(t, testOptions(), b)
	tc := login(t, addr)
	tc.send("DELE 1")
	tc.expect("+OK ")
	tc.send("NOOP")
	tc.expect("+OK")
	if n := len(b.Messages("bob")); n != 2 {
		t.Fatalf("before QUIT: %d messages, want 2 (DELE only marks)", n)
	}
	tc.send("QUIT")
	tc.expect("+OK maillab POP3 server signing off (1 messages deleted)")
	tc.expectClosed()
	if got := b.Messages("bob"); len(got) != 1 || string(got[0]) != msg2 {
		t.Errorf("after QUIT: %q, want only message 2", got)
	}
	if b.Locked("bob") {
		t.Error("bob's maildrop still locked after QUIT")
	}
}

func TestQuitInAuthorizationDeletesNothing(t *testing.T) {
	b := bobBackend()
	_, addr := startServer(t, testOptions(), b)
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("QUIT")
	tc.expect("+OK maillab POP3 server signing off")
	tc.expectClosed()
	if n := len(b.Messages("bob")); n != 2 {
		t.Errorf("%d messages, want 2", n)
	}
}

func TestDroppedConnectionDeletesNothing(t *testing.T) {
	b := bobBackend()
	srv, addr := startServer(t, testOptions(), b)
	tc := login(t, addr)
	tc.send("DELE 1", "DELE 2")
	tc.expect("+OK ")
	tc.expect("+OK ")
	tc.c.Close()
	// Shutdown waits for the session to end, however it ended.
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(b.Messages("bob")); n != 2 {
		t.Errorf("%d messages after a dropped connection, want 2", n)
	}
	if b.Locked("bob") {
		t.Error("bob's maildrop still locked after a dropped connection")
	}
}

func TestIdleTimeoutDeletesNothing(t *testing.T) {
	b := bobBackend()
	opts := testOptions()
	opts.IdleTimeout = 50 * time.Millisecond
	_, addr := startServer(t, opts, b)
	tc := login(t, addr)
	tc.send("DELE 1")
	tc.expect("+OK ")
	tc.expect("-ERR autologout: idle for too long, no messages deleted")
	tc.expectClosed()
	if n := len(b.Messages("bob")); n != 2 {
		t.Errorf("%d messages after autologout, want 2", n)
	}
}

func TestShutdownEndsSessionWithoutUpdate(t *testing.T) {
	b := bobBackend()
	srv, addr := startServer(t, testOptions(), b)
	tc := login(t, addr)
	tc.send("DELE 1")
	tc.expect("+OK ")
	shut := shutdownInBackground(srv)
	tc.expect("-ERR [SYS/TEMP] server shutting down")
	tc.expectClosed()
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if n := len(b.Messages("bob")); n != 2 || b.Locked("bob") {
		t.Errorf("after Shutdown: %d messages, locked %v; want 2, false", n, b.Locked("bob"))
	}
}

func TestInUse(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	first := login(t, addr)
	second := dial(t, addr)
	second.expect("+OK ")
	second.send("USER bob", "PASS secret")
	second.expect("+OK ")
	second.expect("-ERR [IN-USE] maildrop already locked")
	first.quit()
	second.send("USER bob", "PASS secret")
	second.expect("+OK ")
	second.expect("+OK bob's maildrop")
}

func TestWrongState(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("STAT", "RETR 1")
	tc.expect("-ERR STAT is not allowed before login")
	tc.expect("-ERR RETR is not allowed before login")
	tc.send("USER bob", "PASS secret", "USER bob", "APOP bob c4c9334bac560ecc979e58001b3e22fb")
	tc.expect("+OK ")
	tc.expect("+OK ")
	tc.expect("-ERR USER is only allowed before login")
	tc.expect("-ERR APOP is only allowed before login")
}

func TestUnknownAndMalformedCommands(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("HELO", "XY", "STLS", "RETR\x01", "USER ")
	tc.expect("-ERR unknown command HELO")
	tc.expect("-ERR syntax error: a command is a keyword of 3 or 4 letters")
	tc.expect("-ERR unknown command STLS")
	tc.expect("-ERR syntax error: control character 0x01")
	tc.expect("-ERR syntax error: space after USER but no argument")
}

func TestLineTooLong(t *testing.T) {
	_, addr := startServer(t, testOptions(), bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("USER "+strings.Repeat("b", 250), "NOOP")
	tc.expect("-ERR line too long (the limit is 255 octets")
	tc.expect("-ERR NOOP is not allowed before login") // the session went on
}

func TestMaxErrorsClosesConnection(t *testing.T) {
	opts := testOptions()
	opts.MaxErrors = 2
	_, addr := startServer(t, opts, bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("BAD", "BAD", "BAD")
	tc.expect("-ERR unknown command")
	tc.expect("-ERR unknown command")
	tc.expect("-ERR too many errors, closing connection")
	tc.expectClosed()
}

func TestMaxAuthFailuresClosesConnection(t *testing.T) {
	b := bobBackend()
	opts := testOptions()
	opts.MaxAuthFailures = 2
	_, addr := startServer(t, opts, b)
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("USER bob", "PASS a", "USER bob", "PASS b")
	tc.expect("+OK ")
	tc.expect("-ERR [AUTH] invalid user name or password")
	tc.expect("+OK ")
	tc.expect("-ERR [AUTH] invalid user name or password (too many failures, closing connection)")
	tc.expectClosed()
}

func TestAuthFailDelayIsCutShortByShutdown(t *testing.T) {
	// A session waiting out AuthFailDelay must not hold Shutdown for
	// the whole delay.
	b := &hookBackend{MemoryBackend: bobBackend()}
	checking := make(chan struct{})
	b.login = func() error { close(checking); return nil }
	opts := testOptions()
	opts.AuthFailDelay = time.Hour
	srv, addr := startServer(t, opts, b)
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("USER bob", "PASS wrong")
	tc.expect("+OK ")
	<-checking
	shut := shutdownInBackground(srv)
	tc.expect("-ERR [AUTH] ")
	tc.expect("-ERR [SYS/TEMP] server shutting down")
	tc.expectClosed()
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
}

// shutdownInBackground runs Shutdown while the test reads what the
// session says.
func shutdownInBackground(srv *Server) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), safety)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	return done
}

func TestPipelinedCommandsAnsweredInOrderInOneWrite(t *testing.T) {
	l := netconntest.NewPipeListener()
	serveOn(t, testOptions(), bobBackend(), l)
	var tr *tracingConn
	nc := l.Dial(func(c net.Conn) net.Conn { tr = &tracingConn{Conn: c}; return tr })
	tc := newTestClient(t, nc)
	tc.expect("+OK ")
	// net.Pipe delivers a write only when read, so the group must be sent
	// while the server answers.
	go io.WriteString(nc, "USER bob\r\nPASS secret\r\nSTAT\r\nLIST 1\r\nUIDL 2\r\nNOOP\r\n")
	want := []string{"+OK send PASS", "+OK bob's maildrop has 2 messages (" + itoa(len(msg1)+len(msg2)) + " octets)",
		"+OK 2 " + itoa(len(msg1)+len(msg2)), "+OK 1 " + itoa(len(msg1)), "+OK 2 mem-2", "+OK"}
	var got []string
	for range want {
		got = append(got, tc.line())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pipelined responses (-want +got):\n%s", diff)
	}
	writes := 0
	for _, e := range tr.snapshot() {
		if strings.HasPrefix(e, "write ") {
			writes++
		}
	}
	if writes != 2 { // the greeting, then all six responses together
		t.Errorf("server wrote %d times, want 2 (greeting, then one write for the group): %q", writes, tr.snapshot())
	}
}

func TestTranscriptStatesAndMarks(t *testing.T) {
	l := netconntest.NewPipeListener()
	serveOn(t, testOptions(), bobBackend(), l)
	var tr *tracingConn
	nc := l.Dial(func(c net.Conn) net.Conn { tr = &tracingConn{Conn: c}; return tr })
	tc := newTestClient(t, nc)
	tc.expect("+OK ")
	for _, step := range []struct{ send, want string }{
		{"USER bob", "+OK"}, {"PASS secret", "+OK"}, {"RETR 1", "+OK"},
	} {
		tc.send(step.send)
		tc.expect(step.want)
	}
	for range strings.Count(msg1, "\n") + 1 {
		tc.line()
	}
	tc.quit()
	want := []string{
		"write +OK maillab POP3 server ready " + rfcTimestamp + "\r\n",
		"mark C secret",
		"write +OK send PASS\r\n",
		"mark C none",
		"state Authorization -> Transaction",
		"note bob logged in, maildrop locked: 2 messages (" + itoa(len(msg1)+len(msg2)) + " octets)",
		"write +OK bob's maildrop has 2 messages (" + itoa(len(msg1)+len(msg2)) + " octets)\r\n",
		"write +OK " + itoa(len(msg1)) + " octets\r\n",
		"mark S bulk",
		"write " + msg1 + ".\r\n",
		"mark S none",
		"state Transaction -> Update",
		"note UPDATE: 0 messages removed, maildrop unlocked",
		"write +OK maillab POP3 server signing off (0 messages deleted)\r\n",
	}
	if diff := cmp.Diff(want, tr.snapshot()); diff != "" {
		t.Errorf("transcript events (-want +got):\n%s", diff)
	}
}

func TestMaxConns(t *testing.T) {
	opts := testOptions()
	opts.MaxConns = 1
	_, addr := startServer(t, opts, bobBackend())
	first := dial(t, addr)
	first.expect("+OK ")
	second := dial(t, addr)
	second.expect("-ERR [SYS/TEMP] too many connections, try later")
	second.expectClosed()
	first.quit()
}

func TestBackendErrorsAreSysTemp(t *testing.T) {
	b := &hookBackend{MemoryBackend: bobBackend()}
	b.open = func(int) (io.ReadCloser, error) { return nil, errors.New("disk on fire") }
	_, addr := startServer(t, testOptions(), b)
	tc := login(t, addr)
	tc.send("RETR 1", "TOP 1 0")
	tc.expect("-ERR [SYS/TEMP] internal server error, try again later")
	tc.expect("-ERR [SYS/TEMP] internal server error")
}

func TestLoginBackendErrors(t *testing.T) {
	b := &hookBackend{MemoryBackend: bobBackend()}
	b.login = func() error { return pop3.ErrTemp }
	_, addr := startServer(t, testOptions(), b)
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("USER bob", "PASS secret")
	tc.expect("+OK ")
	tc.expect("-ERR [SYS/TEMP] temporary failure, try again later")
}

func TestMessagesFailureUnlocks(t *testing.T) {
	b := &hookBackend{MemoryBackend: bobBackend()}
	b.messages = func() ([]MessageInfo, error) { return nil, errors.New("cannot list") }
	_, addr := startServer(t, testOptions(), b)
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("USER bob", "PASS secret", "STAT")
	tc.expect("+OK ")
	tc.expect("-ERR [SYS/TEMP] ")
	tc.expect("-ERR STAT is not allowed before login")
	if b.Locked("bob") {
		t.Error("maildrop still locked after Messages failed")
	}
}

func TestUpdateFailureIsReported(t *testing.T) {
	b := &hookBackend{MemoryBackend: bobBackend()}
	b.update = func([]int) error { return pop3.ErrTemp }
	_, addr := startServer(t, testOptions(), b)
	tc := login(t, addr)
	tc.send("DELE 1", "QUIT")
	tc.expect("+OK ")
	tc.expect("-ERR [SYS/TEMP] some deleted messages not removed: ")
	tc.expectClosed()
	if b.Locked("bob") {
		t.Error("maildrop still locked")
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errors.New("read error")
	}
	r.n--
	return copy(p, "Subject: partial\r\n"), nil
}

func TestRetrFailingMidwayClosesWithoutFinalDot(t *testing.T) {
	b := &hookBackend{MemoryBackend: bobBackend()}
	b.open = func(int) (io.ReadCloser, error) { return io.NopCloser(&failingReader{n: 1}), nil }
	_, addr := startServer(t, testOptions(), b)
	tc := login(t, addr)
	tc.send("RETR 1")
	tc.expect("+OK ")
	tc.expect("Subject: partial")
	tc.expectClosed()
	if b.Locked("bob") || len(b.Messages("bob")) != 2 {
		t.Error("maildrop locked or changed after a failed RETR")
	}
}

func TestPanicInBackendIsRecovered(t *testing.T) {
	b := &hookBackend{MemoryBackend: bobBackend()}
	b.open = func(int) (io.ReadCloser, error) { panic("bug") }
	_, addr := startServer(t, testOptions(), b)
	tc := login(t, addr)
	tc.send("DELE 2", "RETR 1")
	tc.expect("+OK ")
	tc.expect("-ERR [SYS/TEMP] internal error, closing connection")
	tc.expectClosed()
	if b.Locked("bob") || len(b.Messages("bob")) != 2 {
		t.Error("maildrop locked or changed after a panic")
	}
}
