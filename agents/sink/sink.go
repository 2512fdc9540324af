// Package sink is an SMTP server that accepts every message and stores
// none, like Postfix's smtp-sink. The lab uses it for two things: to
// measure the SMTP code alone, without a disk in the way, and to show a
// class that "250" only means "accepted": what happens to a message after
// that is the server's business.
//
// In a scenario:
//
//	agents:
//	  - {name: sink.example.test, kind: sink}
//
// What to watch in the transcript: the same dialogue as with an MTA, every
// recipient accepted, and the final reply "250 2.0.0 Ok: discarded".
//
// # Standards
//
// RFC 5321 (through package smtpserver).
//
// # Security
//
// A sink accepts mail for anyone from anyone: it must listen on loopback
// only, as the lab does.
//
// # Limits
//
// Those of smtpserver: MaxMessageBytes (default 25 MiB) per message, read
// and thrown away as it arrives, never held in memory.
package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/smtp/smtpserver"
	"github.com/maillab/maillab/transcripts"
)

// Config configures a sink.
type Config struct {
	Name            string // agent name in transcripts
	Hostname        string // greeting name; "" means Name
	Listen          string // SMTP address; "" means "127.0.0.1:0"
	Recorder        *transcripts.Recorder
	MaxMessageBytes int64 // 0 means smtpserver's default
}

// Sink is a running (or not yet started) sink agent.
type Sink struct {
	cfg  Config
	mu   sync.Mutex
	srv  *smtpserver.Server
	done chan struct{}
	addr string
}

// New checks cfg and returns a sink that is not listening yet.
func New(cfg Config) (*Sink, error) {
	if cfg.Name == "" {
		return nil, errors.New("sink: Name is required")
	}
	if cfg.Hostname == "" {
		cfg.Hostname = cfg.Name
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	return &Sink{cfg: cfg}, nil
}

// Name returns the agent's name.
func (s *Sink) Name() string { return s.cfg.Name }

// Kind returns "sink".
func (s *Sink) Kind() string { return "sink" }

// Start listens and serves in the background.
func (s *Sink) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return fmt.Errorf("sink %s: already started", s.cfg.Name)
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("sink %s: listen: %w", s.cfg.Name, err)
	}
	s.addr = l.Addr().String()
	if s.cfg.Recorder != nil {
		l = s.cfg.Recorder.Listen(l, s.cfg.Name, "smtp")
	}
	s.srv = smtpserver.New(smtpserver.Options{Hostname: s.cfg.Hostname, MaxMessageBytes: s.cfg.MaxMessageBytes}, backend{})
	s.done = make(chan struct{})
	srv, done := s.srv, s.done
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	return nil
}

// Stop shuts the server down and waits for its sessions until ctx ends. It
// is safe to call twice, or without Start.
func (s *Sink) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	<-done
	if err != nil {
		return fmt.Errorf("sink %s: %w", s.cfg.Name, err)
	}
	return nil
}

// Endpoints returns {"smtp": address} once started.
func (s *Sink) Endpoints() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addr == "" {
		return map[string]string{}
	}
	return map[string]string{"smtp": s.addr}
}

type backend struct{}

func (backend) NewSession(*smtpserver.ConnInfo) (smtpserver.Session, error) { return session{}, nil }

type session struct{}

func (session) Mail(mail.Path, smtp.MailParams) error { return nil }
func (session) Rcpt(mail.Path) error                  { return nil }
func (session) Reset()                                {}
func (session) Close() error                          { return nil }

// Data reads the message and throws it away.
//
//	C: .
//	S: 250 2.0.0 Ok: discarded
func (session) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	return smtp.Errorf(smtp.C250OK, "2.0.0", "Ok: discarded")
}
