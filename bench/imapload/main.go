// Command imapload puts an IMAP server under load from several concurrent
// clients and reports the rate, the latency and every NO or BAD. It is the
// load generator of bench/imap.sh; like bench/smtpload it speaks just the
// commands it needs (LOGIN, SELECT, FETCH, SEARCH, STORE, NOOP, IDLE,
// LOGOUT) by hand, and is independent of maillab's own IMAP client so that
// a bug there cannot flatter the figures.
//
// Modes:
//
//	mixed  each of -c clients logs in once, SELECTs the mailbox, then loops
//	       a fixed mix of FETCH 20 envelopes, FETCH one whole message,
//	       SEARCH UNSEEN, STORE +FLAGS (\Seen), STORE -FLAGS (\Seen) and
//	       NOOP: commands/s.
//	login  each of -c clients loops connect, greeting, LOGIN, LOGOUT:
//	       logins/s.
//	cmd    each of -c clients logs in, SELECTs, and repeats -cmd (say
//	       "FETCH 1:1000 (BODY.PEEK[HEADER])" or "SEARCH UNSEEN"): ops/s
//	       and the latency of one.
//	idle   opens -n connections (-c at a time), each logged in, SELECTed
//	       and in IDLE (or only as far as -stage says: greeting, login,
//	       select), prints "idle ... open=K" once they all are, and
//	       holds them until SIGINT/SIGTERM or -duration, so that a script
//	       can read the server's memory meanwhile.
//
// Every load is bounded in count (-n) and in time (-duration); only
// loopback addresses may be loaded. Any NO or BAD is an error: the first
// few are printed on stderr with the command and the response, and the exit
// status is 1 when there was any.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	mode     = flag.String("mode", "mixed", "mixed, login, cmd or idle")
	addr     = flag.String("addr", "127.0.0.1:143", "IMAP server HOST:PORT (loopback only)")
	user     = flag.String("user", "bob@example.test", "login name")
	pass     = flag.String("pass", "bob", "password")
	conc     = flag.Int("c", 10, "concurrent clients (idle: connections being set up at a time)")
	n        = flag.Int("n", 100000, "commands (mixed, cmd), logins (login) or connections (idle) in all")
	duration = flag.Duration("duration", 20*time.Second, "stop after this long whatever the count (idle: the longest hold)")
	mbox     = flag.String("mailbox", "INBOX", "the mailbox to SELECT")
	command  = flag.String("cmd", "NOOP", "cmd mode: the command to repeat, without its tag")
	stage    = flag.String("stage", "idle", "idle mode: how far each connection goes: greeting, login, select or idle")
)

// grace is how long one command, login or connection setup may take; one
// that takes longer is an error.
const grace = 30 * time.Second

func main() {
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(os.Stderr, "imapload: -addr %q: only loopback addresses may be loaded\n", *addr)
		os.Exit(2)
	}
	if *conc < 1 || *n < 1 || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "imapload: -c, -n and -duration must be positive")
		os.Exit(2)
	}
	var ok bool
	switch *mode {
	case "mixed":
		ok = runLoop("mixed", mixed)
	case "cmd":
		ok = runLoop("cmd", repeat)
	case "login":
		ok = runLogin()
	case "idle":
		switch *stage {
		case "greeting", "login", "select", "idle":
		default:
			fmt.Fprintf(os.Stderr, "imapload: unknown -stage %q\n", *stage)
			os.Exit(2)
		}
		ok = runIdle()
	default:
		fmt.Fprintf(os.Stderr, "imapload: unknown -mode %q\n", *mode)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// --- Errors ---------------------------------------------------------------------

// errs counts the errors and keeps the first few for the report.
var errs struct {
	mu    sync.Mutex
	count int
	shown int
}

func fail(format string, args ...any) {
	errs.mu.Lock()
	defer errs.mu.Unlock()
	errs.count++
	if errs.shown < 5 {
		errs.shown++
		fmt.Fprintf(os.Stderr, "imapload: error: "+format+"\n", args...)
	}
}

func errorCount() int {
	errs.mu.Lock()
	defer errs.mu.Unlock()
	return errs.count
}

// --- A minimal IMAP client ---------------------------------------------------------

// statusError is a tagged NO or BAD (or an untagged BYE before it).
type statusError struct{ cmd, resp string }

func (e *statusError) Error() string { return fmt.Sprintf("%q -> %q", e.cmd, e.resp) }

type client struct {
	c       net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	tag     int
	exists  int    // from the last SELECT or an untagged EXISTS
	read    int64  // bytes read, literals included
	idleTag string // the tag of the IDLE in progress (idle mode)
}

// dial connects and reads the greeting; "* BYE" (too many connections) is
// an error.
func dial(ctx context.Context) (*client, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", *addr)
	if err != nil {
		return nil, err
	}
	cl := &client{c: c, r: bufio.NewReaderSize(c, 32<<10), w: bufio.NewWriter(c)}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	line, err := cl.r.ReadString('\n')
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if !strings.HasPrefix(line, "* OK") && !strings.HasPrefix(line, "* PREAUTH") {
		c.Close()
		return nil, &statusError{"(greeting)", strings.TrimRight(line, "\r\n")}
	}
	return cl, nil
}

// send writes one tagged command and returns its tag.
func (cl *client) send(cmd string) (string, error) {
	cl.tag++
	tag := "a" + strconv.Itoa(cl.tag)
	cl.w.WriteString(tag)
	cl.w.WriteByte(' ')
	cl.w.WriteString(cmd)
	cl.w.WriteString("\r\n")
	return tag, cl.w.Flush()
}

// line reads one logical response line: a line ending in a literal's
// "{N}" (or "{N+}") is followed by N bytes and then the rest of the line,
// which may hold more literals. It returns the text before the first
// literal, enough to tell a status or an untagged count.
func (cl *client) line() (string, error) {
	var first string
	for i := 0; ; i++ {
		s, err := cl.r.ReadString('\n')
		cl.read += int64(len(s))
		if err != nil {
			return "", err
		}
		if i == 0 {
			first = s
		}
		size, ok := literalSize(s)
		if !ok {
			return strings.TrimRight(first, "\r\n"), nil
		}
		m, err := io.CopyN(io.Discard, cl.r, size)
		cl.read += m
		if err != nil {
			return "", err
		}
	}
}

// literalSize returns N when s ends with "{N}\r\n" or "{N+}\r\n".
func literalSize(s string) (int64, bool) {
	s = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
	if !strings.HasSuffix(s, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(s, '{')
	if i < 0 {
		return 0, false
	}
	num := strings.TrimSuffix(s[i+1:len(s)-1], "+")
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 {
		return 0, false
	}
	return v, true
}

// run sends cmd and reads until its tagged reply; a NO or BAD is a
// *statusError naming the command and the reply.
func (cl *client) run(cmd string) error {
	tag, err := cl.send(cmd)
	if err != nil {
		return err
	}
	return cl.wait(tag, cmd)
}

func (cl *client) wait(tag, cmd string) error {
	prefix := tag + " "
	var bye string
	for {
		l, err := cl.line()
		if err != nil {
			if bye != "" {
				return &statusError{cmd, bye}
			}
			return fmt.Errorf("%q: %w", cmd, err)
		}
		if rest, ok := strings.CutPrefix(l, prefix); ok {
			if len(rest) >= 2 && strings.EqualFold(rest[:2], "OK") {
				return nil
			}
			return &statusError{cmd, l}
		}
		if strings.HasPrefix(l, "* ") {
			f := strings.Fields(l)
			if len(f) >= 3 && strings.EqualFold(f[2], "EXISTS") {
				if v, err := strconv.Atoi(f[1]); err == nil {
					cl.exists = v
				}
			}
			if len(f) >= 2 && strings.EqualFold(f[1], "BYE") && !strings.EqualFold(cmd, "LOGOUT") {
				bye = l
			}
		}
	}
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// session connects, logs in and SELECTs the mailbox.
func session(ctx context.Context) (*client, error) {
	cl, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	if err := cl.run("LOGIN " + quote(*user) + " " + quote(*pass)); err != nil {
		cl.c.Close()
		return nil, err
	}
	if err := cl.run("SELECT " + quote(*mbox)); err != nil {
		cl.c.Close()
		return nil, err
	}
	return cl, nil
}

// --- mixed and cmd ---------------------------------------------------------------

// mixed returns the i-th command of the mix (six kinds, in turn) for a
// mailbox of exists messages; r picks the messages.
func mixed(i int, exists int, r *rand.Rand) string {
	msg := 1 + r.IntN(exists)
	switch i % 6 {
	case 0:
		lo := 1 + r.IntN(max(exists-19, 1))
		return fmt.Sprintf("FETCH %d:%d (FLAGS ENVELOPE)", lo, min(lo+19, exists))
	case 1:
		return fmt.Sprintf("FETCH %d BODY.PEEK[]", msg)
	case 2:
		return "SEARCH UNSEEN"
	case 3:
		return fmt.Sprintf(`STORE %d +FLAGS (\Seen)`, msg)
	case 4:
		return fmt.Sprintf(`STORE %d -FLAGS (\Seen)`, msg)
	default:
		return "NOOP"
	}
}

func repeat(int, int, *rand.Rand) string { return *command }

// runLoop runs -c clients, each logged in once, sending next's commands
// one at a time until -n commands in all or -duration.
func runLoop(name string, next func(i, exists int, r *rand.Rand) string) bool {
	sig, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	setup, cancelSetup := context.WithTimeout(sig, grace)
	defer cancelSetup()

	// Log every client in first, so that the rate is that of the commands.
	clients := make([]*client, *conc)
	var wg sync.WaitGroup
	var setupFailed atomic.Int64
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := session(setup)
			if err != nil {
				setupFailed.Add(1)
				fail("client %d: log in and select: %v", i, err)
				return
			}
			if cl.exists == 0 && name == "mixed" {
				setupFailed.Add(1)
				fail("client %d: %s is empty: nothing to fetch", i, *mbox)
				cl.c.Close()
				return
			}
			// The commands in flight when -duration ends may finish: the
			// connection's own deadline is later, so a timeout is the
			// server's, never the load's end.
			_ = cl.c.SetDeadline(time.Now().Add(*duration + grace))
			clients[i] = cl
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(sig, *duration)
	defer cancel()

	var issued, done atomic.Int64
	var bytesRead atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	start := time.Now()
	for i, cl := range clients {
		if cl == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.c.Close()
			r := rand.New(rand.NewPCG(uint64(i), 42))
			var mine []time.Duration
			for k := i; ctx.Err() == nil; k++ {
				if issued.Add(1) > int64(*n) {
					break
				}
				cmd := next(k, cl.exists, r)
				t := time.Now()
				err := cl.run(cmd)
				if err != nil {
					fail("client %d: %v", i, err)
					var se *statusError
					if !errors.As(err, &se) {
						break // the connection is gone
					}
					continue
				}
				mine = append(mine, time.Since(t))
				done.Add(1)
			}
			bytesRead.Add(cl.read)
			_ = cl.c.SetDeadline(time.Now().Add(2 * time.Second))
			_ = cl.run("LOGOUT")
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	label := ""
	if name == "cmd" {
		label = fmt.Sprintf(" cmd=%q", *command)
	}
	e := errorCount()
	fmt.Printf("mode=%s%s clients=%d commands=%d errors=%d seconds=%.2f rate=%.0f cmd/s p50=%v p99=%v read=%.1fMB\n",
		name, label, *conc, done.Load(), e, elapsed.Seconds(), float64(done.Load())/elapsed.Seconds(),
		pct(lat, 0.5), pct(lat, 0.99), float64(bytesRead.Load())/(1<<20))
	return e == 0 && setupFailed.Load() == 0
}

func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	return lat[int(float64(len(lat)-1)*p)].Round(time.Microsecond)
}

// --- login -----------------------------------------------------------------------

func runLogin() bool {
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var issued, done atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < *conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil && issued.Add(1) <= int64(*n) {
				t := time.Now()
				// Each login has its own bound, so that the end of the load
				// never cuts one short.
				lctx, lcancel := context.WithTimeout(context.Background(), grace)
				err := loginOnce(lctx)
				lcancel()
				if err != nil {
					fail("client %d: %v", i, err)
					continue
				}
				mine = append(mine, time.Since(t))
				done.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	e := errorCount()
	fmt.Printf("mode=login clients=%d logins=%d errors=%d seconds=%.2f rate=%.0f logins/s p50=%v p99=%v\n",
		*conc, done.Load(), e, elapsed.Seconds(), float64(done.Load())/elapsed.Seconds(), pct(lat, 0.5), pct(lat, 0.99))
	return e == 0
}

// loginOnce is connect, greeting, LOGIN, LOGOUT (its BYE and tagged OK).
func loginOnce(ctx context.Context) error {
	cl, err := dial(ctx)
	if err != nil {
		return err
	}
	defer cl.c.Close()
	if err := cl.run("LOGIN " + quote(*user) + " " + quote(*pass)); err != nil {
		return err
	}
	return cl.run("LOGOUT")
}

// --- idle ------------------------------------------------------------------------

func runIdle() bool {
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	conns := make([]*client, *n)
	sem := make(chan struct{}, *conc)
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := time.Now()
	for i := range conns {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cl, err := idleOne(ctx)
			if err != nil {
				failed.Add(1)
				fail("connection %d: %v", i, err)
				return
			}
			conns[i] = cl
		}()
	}
	wg.Wait()
	open := 0
	for _, cl := range conns {
		if cl != nil {
			open++
		}
	}
	fmt.Printf("idle stage=%s connections=%d open=%d failed=%d setup=%.2fs\n", *stage, *n, open, failed.Load(), time.Since(start).Seconds())
	os.Stdout.Sync()

	<-ctx.Done() // SIGINT/SIGTERM from the script, or -duration

	// Leave politely: DONE ends the IDLE, then LOGOUT.
	var left atomic.Int64
	for _, cl := range conns {
		if cl == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer cl.c.Close()
			_ = cl.c.SetDeadline(time.Now().Add(5 * time.Second))
			if cl.idleTag != "" {
				cl.w.WriteString("DONE\r\n")
				if cl.w.Flush() != nil || cl.wait(cl.idleTag, "IDLE") != nil {
					return
				}
			}
			if cl.run("LOGOUT") == nil {
				left.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("idle closed=%d of %d cleanly (DONE, LOGOUT)\n", left.Load(), open)
	return failed.Load() == 0
}

// idleOne logs in, SELECTs and starts IDLE, waiting for its "+".
func idleOne(ctx context.Context) (*client, error) {
	setup, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	var cl *client
	var err error
	switch *stage {
	case "greeting", "login":
		if cl, err = dial(setup); err != nil {
			return nil, err
		}
		if *stage == "login" {
			if err := cl.run("LOGIN " + quote(*user) + " " + quote(*pass)); err != nil {
				cl.c.Close()
				return nil, err
			}
		}
		_ = cl.c.SetDeadline(time.Time{})
		return cl, nil
	case "select":
		if cl, err = session(setup); err != nil {
			return nil, err
		}
		_ = cl.c.SetDeadline(time.Time{})
		return cl, nil
	}
	cl, err = session(setup)
	if err != nil {
		return nil, err
	}
	tag, err := cl.send("IDLE")
	if err != nil {
		cl.c.Close()
		return nil, err
	}
	for {
		l, err := cl.line()
		if err != nil {
			cl.c.Close()
			return nil, fmt.Errorf("IDLE: %w", err)
		}
		if strings.HasPrefix(l, "+") {
			break
		}
		if strings.HasPrefix(l, tag+" ") {
			cl.c.Close()
			return nil, &statusError{"IDLE", l}
		}
	}
	cl.idleTag = tag
	_ = cl.c.SetDeadline(time.Time{}) // hold without a deadline: -duration bounds it
	return cl, nil
}
