package imapclient

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestIdleUpdates(t *testing.T) {
	var before []string
	var late []string
	opts := testOptions()
	opts.BeforeCommand = func(line string) error { before = append(before, line); return nil }
	opts.OnUnilateral = func(u Update) { late = append(late, u.String()) }
	c, conn, p := dialPeer(t, `
		S: * OK [CAPABILITY IMAP4rev1 IDLE] ready
		C: a001 SELECT INBOX
		S: * 3 EXISTS
		S: a001 OK [READ-WRITE] done
		C: a002 IDLE
		S: + idling
		S: * 4 EXISTS
		S: * 2 EXPUNGE
		S: * 3 FETCH (UID 9 FLAGS (\Seen))
		C: DONE
		S: * 4 EXISTS
		S: a002 OK IDLE terminated
	`, opts)
	defer p.Check(conn)
	if _, err := c.Select("INBOX"); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := c.Idle(t.Context(), func(u Update) bool {
		got = append(got, u.String())
		return u.Kind != UpdateFetch
	})
	if err != nil {
		t.Fatalf("Idle: %v", err)
	}
	if diff := cmp.Diff([]string{"4 EXISTS", "2 EXPUNGE", `3 FETCH (FLAGS (\Seen))`}, got); diff != "" {
		t.Errorf("updates (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"4 EXISTS"}, late); diff != "" {
		t.Errorf("news after DONE (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a001 SELECT INBOX", "a002 IDLE", "DONE"}, before); diff != "" {
		t.Errorf("BeforeCommand saw (-want +got):\n%s", diff)
	}
	if c.Mailbox().Exists != 4 {
		t.Errorf("Exists = %d, want 4", c.Mailbox().Exists)
	}
}

func TestIdleContextEnds(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a001 IDLE
		S: + idling
		S: * 1 EXISTS
		C: DONE
		S: a001 OK IDLE terminated
		C: a002 NOOP
		S: a002 OK
	`, testOptions())
	defer p.Check(conn)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	err := c.Idle(ctx, func(u Update) bool {
		cancel() // the user closed the mail window
		return true
	})
	if err != nil {
		t.Fatalf("Idle: %v", err)
	}
	if err := c.Noop(); err != nil {
		t.Errorf("Noop after Idle: %v", err)
	}
	if err := c.Idle(ctx, func(Update) bool { return true }); !errors.Is(err, context.Canceled) {
		t.Errorf("Idle with a done context = %v", err)
	}
}

// TestIdleReissued: RFC 2177 section 3, the client ends IDLE and starts a
// new one before the server's autologout.
func TestIdleReissued(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a001 IDLE
		S: + idling
		C: DONE
		S: a001 OK IDLE terminated
		C: a002 IDLE
		S: + idling
		S: * 5 EXISTS
		C: DONE
		S: a002 OK IDLE terminated
	`, testOptions())
	defer p.Check(conn)
	var asked []time.Duration
	c.idleTimer = func(d time.Duration) (<-chan time.Time, func() bool) {
		asked = append(asked, d)
		if len(asked) == 1 {
			fired := make(chan time.Time)
			close(fired)
			return fired, func() bool { return false }
		}
		return nil, func() bool { return true }
	}
	var got []Update
	if err := c.Idle(t.Context(), func(u Update) bool { got = append(got, u); return false }); err != nil {
		t.Fatalf("Idle: %v", err)
	}
	if len(got) != 1 || got[0].Kind != UpdateExists || got[0].Num != 5 {
		t.Errorf("updates = %v", got)
	}
	if diff := cmp.Diff([]time.Duration{29 * time.Minute, 29 * time.Minute}, asked); diff != "" {
		t.Errorf("timers (-want +got):\n%s", diff)
	}
}

func TestIdleRefused(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a001 IDLE
		S: a001 BAD Unknown command
	`, testOptions())
	defer p.Check(conn)
	err := c.Idle(t.Context(), func(Update) bool { return true })
	wantIMAPError(t, err, "BAD", "", "imapclient: IDLE: BAD Unknown command")
}

func TestIdleBye(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a001 IDLE
		S: + idling
		S: * BYE Server shutting down
	`, testOptions())
	defer p.Check(conn)
	var got []Update
	err := c.Idle(t.Context(), func(u Update) bool { got = append(got, u); return true })
	wantIMAPError(t, err, "BYE", "", "imapclient: IDLE: BYE Server shutting down")
	if len(got) != 1 || got[0].Kind != UpdateBye || got[0].Text != "Server shutting down" {
		t.Errorf("updates = %v", got)
	}
}

func TestIdleClosedFromOutside(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a001 IDLE
		S: + idling
		S: * 2 EXISTS
		...
	`, testOptions())
	defer p.Check(conn)
	seen := make(chan struct{})
	result := make(chan error, 1)
	go func() {
		result <- c.Idle(t.Context(), func(Update) bool { close(seen); return true })
	}()
	<-seen
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-result; err == nil {
		t.Error("Idle returned nil after Close")
	}
}

func TestIdleUnexpectedContinuation(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a001 IDLE
		S: + idling
		S: + again?
		...
	`, testOptions())
	defer p.Check(conn)
	err := c.Idle(t.Context(), func(Update) bool { return true })
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("err = %v, want ErrMalformed", err)
	}
}
