package sink

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
)

func TestSinkAcceptsAndDiscards(t *testing.T) {
	s, err := New(Config{Name: "sink.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	c, err := net.Dial("tcp", s.Endpoints()["smtp"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	read := func() string {
		t.Helper()
		var last string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading reply: %v", err)
			}
			last = line
			if len(line) < 4 || line[3] != '-' {
				return strings.TrimRight(last, "\r\n")
			}
		}
	}
	if got := read(); !strings.HasPrefix(got, "220 sink.example.test") {
		t.Fatalf("greeting %q", got)
	}
	for _, step := range []struct{ send, want string }{
		{"EHLO client.test", "250 "},
		{"MAIL FROM:<anyone@anywhere.test>", "250 2.1.0"},
		{"RCPT TO:<whoever@elsewhere.test>", "250 2.1.5"},
		{"DATA", "354 "},
		{"Subject: into the void\r\n\r\nbye\r\n.", "250 2.0.0 Ok: discarded"},
		{"QUIT", "221 "},
	} {
		if _, err := c.Write([]byte(step.send + "\r\n")); err != nil {
			t.Fatal(err)
		}
		if got := read(); !strings.HasPrefix(got, step.want) {
			t.Fatalf("after %q got %q, want %q", step.send, got, step.want)
		}
	}
}

func TestSinkStopIsSafeTwiceAndWithoutStart(t *testing.T) {
	s, err := New(Config{Name: "sink"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}
