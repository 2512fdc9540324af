package transcripts

import (
	"bufio"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/maillab/maillab/protocols/wire"
)

// TestMarkAheadMarksBufferedBytes: a server buffers a response with a
// literal in it and marks the literal by its distance from what it has
// written, then writes everything at once.
func TestMarkAheadMarksBufferedBytes(t *testing.T) {
	rec := NewRecorder(Options{})
	l := rec.Listen(listen(t), "mda.a.test", "imap")
	done := serve(t, l, func(p *peer) error {
		if err := p.send("* OK ready"); err != nil {
			return err
		}
		ahead := p.c.(interface {
			MarkAhead(wire.Direction, int64, wire.Mark)
		})
		bw := bufio.NewWriter(p.c)
		for range 2 {
			bw.WriteString("* 1 FETCH (BODY[] {14}\r\n")
			ahead.MarkAhead(wire.ServerToClient, int64(bw.Buffered()), wire.MarkBulk)
			bw.WriteString("Subject: x\r\n\r\n")
			ahead.MarkAhead(wire.ServerToClient, int64(bw.Buffered()), wire.MarkNone)
			bw.WriteString(")\r\n")
		}
		bw.WriteString("a OK done\r\n")
		return bw.Flush()
	})
	c, err := rec.Dialer("alice", "imap", nil)(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer(t, c)
	for _, prefix := range []string{"* OK", "* 1", "Subject", "", ")", "* 1", "Subject", "", ")", "a OK"} {
		if err := p.expect(prefix); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []string{
		"#1 open alice -> mda.a.test",
		"#1 line S: * OK ready",
		"#1 line S: * 1 FETCH (BODY[] {14}",
		"#1 line S: Subject: x [bulk]",
		"#1 line S:  [bulk]",
		"#1 line S: )",
		"#1 line S: * 1 FETCH (BODY[] {14}",
		"#1 line S: Subject: x [bulk]",
		"#1 line S:  [bulk]",
		"#1 line S: )",
		"#1 line S: a OK done",
	}
	got := summaries(rec.Events())
	got = got[:len(got)-1] // the close, by either side
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
}
