//go:build unix

package queue

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash test runs the queue in a child process (this test binary,
// re-executed with crashChildEnv set) and kills it with SIGKILL at
// several moments. The child logs, with O_APPEND and fsync:
//
//	S pid            the child started
//	A id             Put of id returned: the MTA would have answered 250
//	D id rcpt pid    the Deliverer handed id to rcpt (the remote's 250)
//	C id rcpt pid    the queue noted "delivered to <rcpt>", which it does
//	                 only after the envelope recording it is on disk
//	E pid            the queue is empty; the child exits
//
// A D without its C is a delivery inside the documented window (between
// the remote 250 and the envelope rewrite): the next process may deliver
// it again. A D after a C would be a real duplicate: a bug.
const (
	crashChildEnv = "MAILLAB_QUEUE_CRASH_CHILD"
	crashN        = 50
)

var crashRcpts = []string{"bob@b.example", "carol@c.example"}

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) == "1" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

// crashChild is the child process: open the queue, Put the messages from
// index PUT_FROM on, deliver until the queue is empty.
func crashChild() int {
	dir, logPath := os.Getenv("CRASH_DIR"), os.Getenv("CRASH_LOG")
	putFrom, _ := strconv.Atoi(os.Getenv("CRASH_PUT_FROM"))
	lf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	pid := os.Getpid()
	logLine := func(format string, args ...any) {
		// One write(2) per line: O_APPEND keeps lines whole.
		if _, err := lf.WriteString(fmt.Sprintf(format, args...) + "\n"); err != nil {
			panic(err)
		}
		if err := lf.Sync(); err != nil {
			panic(err)
		}
	}
	logLine("S %d", pid)
	q, err := Open(Options{
		Dir:      dir,
		Name:     "crash",
		Schedule: []time.Duration{3 * time.Millisecond},
		Deliver: func(ctx context.Context, m *Message, body []byte, rcpts []string) []Result {
			var res []Result
			for _, r := range rcpts {
				time.Sleep(time.Millisecond) // the SMTP dialogue
				n, _ := strconv.Atoi(strings.TrimPrefix(m.ID, "M"))
				if n%5 == 0 && r == crashRcpts[1] && m.Attempts == 0 {
					res = append(res, Result{Rcpt: r, Temporary: true, Status: "4.2.0", Diagnostic: "smtp; 451 4.2.0 greylisted"})
					continue
				}
				logLine("D %s %s %d", m.ID, r, pid)
				res = append(res, Result{Rcpt: r, Delivered: true, Status: "2.0.0"})
			}
			return res
		},
		Note: func(id, text string) {
			if r, ok := strings.CutPrefix(text, "delivered to <"); ok {
				r, _, _ = strings.Cut(r, ">")
				logLine("C %s %s %d", id, r, pid)
			}
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for i := putFrom; i >= 0 && i < crashN; i++ {
		id := fmt.Sprintf("M%02d", i)
		body := fmt.Sprintf("Subject: crash test %d\r\n\r\n%s\r\n", i, strings.Repeat("x", 4000))
		if err := q.Put(id, "alice@a.example", crashRcpts, []byte(body)); err != nil && !errors.Is(err, ErrExists) {
			// ErrExists: durably put by the previous child, killed before
			// it could log A (and before it answered 250).
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		logLine("A %s", id)
	}
	q.Start()
	deadline := time.Now().Add(60 * time.Second)
	for len(q.List()) > 0 {
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "child: queue not empty after 60s")
			return 3
		}
		time.Sleep(2 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Stop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	logLine("E %d", pid)
	return 0
}

// crashLog counts the log's lines by kind.
func crashLog(t *testing.T, path string) (lines [][]string, a, d int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		lines = append(lines, f)
		switch f[0] {
		case "A":
			a++
		case "D":
			d++
		}
	}
	return lines, a, d
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: -short")
	}
	dir := filepath.Join(t.TempDir(), "queue")
	logPath := filepath.Join(t.TempDir(), "deliveries.log")
	// Kill points: during the Puts, then after a growing number of
	// deliveries; the last child runs to the end.
	type point struct {
		kind byte // 'A' or 'D'
		n    int
	}
	points := []point{{'A', 20}, {'D', 10}, {'D', 35}, {'D', 60}, {'D', 85}}
	kills := 0
	for round := 0; ; round++ {
		_, a, _ := crashLog(t, logPath)
		putFrom := a // Puts are logged in order
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"=1", "CRASH_DIR="+dir, "CRASH_LOG="+logPath,
			"CRASH_PUT_FROM="+strconv.Itoa(putFrom))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if round < len(points) {
			p := points[round]
			deadline := time.Now().Add(30 * time.Second)
		poll:
			for {
				select {
				case err := <-exited:
					exited <- err
					break poll
				default:
				}
				_, a2, d2 := crashLog(t, logPath)
				if p.kind == 'A' && a2 >= p.n || p.kind == 'D' && d2 >= p.n {
					_ = cmd.Process.Signal(syscall.SIGKILL)
					break
				}
				if time.Now().After(deadline) {
					_ = cmd.Process.Signal(syscall.SIGKILL)
					<-exited
					t.Fatalf("round %d: no progress in 30s; child stderr:\n%s", round, stderr.String())
				}
				time.Sleep(500 * time.Microsecond)
			}
		}
		select {
		case err := <-exited:
			var ee *exec.ExitError
			if err == nil {
				t.Logf("round %d: child finished", round)
				goto check
			}
			if errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() {
				kills++
				t.Logf("round %d: child killed with SIGKILL", round)
				continue
			}
			t.Fatalf("round %d: child: %v\n%s", round, err, stderr.String())
		case <-time.After(90 * time.Second):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			t.Fatalf("round %d: child did not finish; stderr:\n%s", round, stderr.String())
		}
	}
check:
	lines, _, _ := crashLog(t, logPath)
	type pair struct{ id, rcpt string }
	accepted := map[string]bool{}
	ds := map[pair]int{}
	committed := map[pair]bool{}
	window, starts := 0, 0
	for _, f := range lines {
		switch {
		case f[0] == "S":
			starts++
		case f[0] == "A" && len(f) == 2:
			accepted[f[1]] = true
		case f[0] == "D" && len(f) == 4:
			p := pair{f[1], f[2]}
			if committed[p] {
				t.Errorf("%s delivered to %s again after its delivery was committed", p.id, p.rcpt)
			}
			if ds[p] > 0 {
				window++ // an earlier D without its C: the documented window
			}
			ds[p]++
		case f[0] == "C" && len(f) == 4:
			p := pair{f[1], f[2]}
			if ds[p] == 0 {
				t.Errorf("%s to %s committed before any delivery", p.id, p.rcpt)
			}
			committed[p] = true
		}
	}
	total := 0
	for i := range crashN {
		id := fmt.Sprintf("M%02d", i)
		if !accepted[id] {
			t.Errorf("%s never accepted", id)
		}
		for _, r := range crashRcpts {
			total += ds[pair{id, r}]
			if ds[pair{id, r}] == 0 {
				t.Errorf("%s never delivered to %s", id, r)
			}
		}
	}
	if ms, err := ReadDir(dir); err != nil || len(ms) != 0 {
		t.Errorf("queue left with %v, %v", ms, err)
	}
	t.Logf("%d processes, %d killed with SIGKILL; %d deliveries of %d (message, recipient) pairs; %d duplicates, all in the documented window",
		starts, kills, total, crashN*len(crashRcpts), window)
}
