package mta

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/wire"
)

// Fault makes an MTA misbehave on purpose, so that a class can watch a
// sender's queue defer and retry: answer a chosen code to a chosen command,
// or answer it late.
//
//	faults:
//	  - {command: RCPT, reply: "451 4.3.0 Try again later", times: 2}
//	  - {command: DATA, delay: 3s}
type Fault struct {
	// Command is MAIL, RCPT or DATA (the reply to the final "." of the
	// message text).
	Command string
	// Reply, when set, replaces the MTA's own answer; it must be a 4yz or
	// 5yz reply.
	Reply *smtp.Error
	// Times is how many commands the fault hits; 0 means every one.
	Times int
	// Delay is waited before answering (at most a minute).
	Delay time.Duration
}

// faults keeps count of the faults an MTA has left to play.
type faults struct {
	mu   sync.Mutex
	list []Fault
	hits []int
}

func newFaults(list []Fault) (*faults, error) {
	f := &faults{hits: make([]int, len(list))}
	for i, x := range list {
		x.Command = strings.ToUpper(x.Command)
		switch x.Command {
		case "MAIL", "RCPT", "DATA":
		default:
			return nil, fmt.Errorf("fault %d: command %q: must be MAIL, RCPT or DATA", i+1, x.Command)
		}
		if x.Reply != nil && (x.Reply.Code < 400 || x.Reply.Code > 599) {
			return nil, fmt.Errorf("fault %d: reply %d: must be a 4yz or 5yz code", i+1, x.Reply.Code)
		}
		if x.Delay < 0 || x.Delay > time.Minute {
			return nil, fmt.Errorf("fault %d: delay %v: must be between 0 and 1m", i+1, x.Delay)
		}
		if x.Times < 0 {
			return nil, fmt.Errorf("fault %d: times %d: must not be negative", i+1, x.Times)
		}
		f.list = append(f.list, x)
	}
	return f, nil
}

// hit plays the faults for command: it waits their delay and returns the
// reply of the first one with a reply, noting both in the transcript.
func (f *faults) hit(command string, tr wire.Tracer) error {
	if f == nil {
		return nil
	}
	var delay time.Duration
	var reply *smtp.Error
	f.mu.Lock()
	for i, x := range f.list {
		if x.Command != command || (x.Times > 0 && f.hits[i] >= x.Times) {
			continue
		}
		f.hits[i]++
		delay += x.Delay
		if reply == nil && x.Reply != nil {
			r := *x.Reply
			reply = &r
		}
	}
	f.mu.Unlock()
	if delay > 0 {
		tr.Note(fmt.Sprintf("fault injected by the scenario: waiting %v before answering %s", delay, command))
		time.Sleep(min(delay, time.Minute))
	}
	if reply != nil {
		tr.Note(fmt.Sprintf("fault injected by the scenario: answering %s with %d", command, reply.Code))
		return reply
	}
	return nil
}
