// Package queue is the MTA's mail queue: the messages it has accepted
// (answered 250 for) and not yet handed on, kept on disk so that they
// survive a crash, attempted again on a schedule while delivery fails
// temporarily, and returned to their senders in a delivery status
// notification (a "bounce") when delivery fails for good or takes too long.
//
// The MTA calls Put once a message is in, and answers 250 only after Put
// has returned: from then on the message is the MTA's responsibility (RFC
// 5321 section 6.1). The queue then calls the MTA's Deliverer, once per
// attempt per message, with the recipients still pending; the MTA groups
// them by destination, looks up MX records and speaks SMTP or LMTP.
//
// What to watch in a transcript: after the DATA reply, the queue's notes
// for the message's queue id: "delivered to <bob@b.example>", or
// "deferred: <bob@b.example>: 4.4.1 ...; next attempt in 5m0s (attempt 2)"
// and, that much later, a second connection for the same queue id; after a
// 5xx, "bounce 3F2A... sent to <alice@a.example>" and a new message from
// MAIL FROM:<> (the null reverse-path) whose body is a multipart/report;
// and, when a bounce itself fails, "no bounce for a bounce, RFC 5321
// section 3.6.3" and nothing more.
//
// # On disk
//
// One directory per queue (Options.Dir):
//
//	lock         flock(2)ed by the queue that has the directory open
//	tmp/         files being written; removed by Open
//	msg/ID.eml   the message as received (header and body), never changed
//	env/ID.json  its envelope: sender, recipients and their states, attempts,
//	             next attempt; rewritten (tmp, fsync, rename, fsync env/)
//	             at every change; its presence commits the message
//	corrupt/     envelopes that do not parse, and their bodies, put aside
//
// Put writes msg/ID.eml then env/ID.json, each through tmp/ with fsync, and
// fsyncs msg/ and env/ before it returns. Every change of state (recipient
// delivered, failed, expired; attempts; next attempt; bounce owed, bounce
// queued) is in env/ before the next attempt is made and before the bounce
// is queued, so a process killed at any moment and reopened delivers every
// accepted message and sends every owed bounce exactly once, with one
// exception that no queue can avoid: between the remote server's 250 and
// the envelope rewrite that records it, a crash makes the next process
// deliver that recipient again. RFC 5321 section 6.1 prefers a duplicate to
// a loss. A message whose recipients are all delivered or bounced has its
// files removed (env/ first, fsynced, then msg/).
//
// ReadDir reads env/ without taking the lock, for `maillab queue --dir`.
//
// # Standards
//
// RFC 5321 section 4.5.4.1 (retry strategy: retry intervals, give-up time
// of at least 4-5 days, one transaction per destination), section 4.5.5 and
// section 3.6.3 (bounces use the null reverse-path; no bounce for a
// bounce), section 6.1 (reliable delivery: responsibility after 250,
// duplicates rather than losses); RFC 3464 (delivery status
// notifications); RFC 6522 (multipart/report); RFC 3463 (enhanced status
// codes: 4.4.7 delivery time expired); RFC 3834 (Auto-Submitted:
// auto-replied); RFC 5322 (the bounce's header).
//
// # Security
//
// The queue holds mail from anyone, and what remote servers answered: a
// Diagnostic is stripped of control characters and shortened before it is
// stored or put in a bounce, so a hostile server cannot add header fields
// or lines to a DSN. Only the original header is returned, never the body
// (RET=HDRS style), so a bounce cannot relay content to a forged sender
// (backscatter) beyond a header. Files are created mode 0600, directories
// 0700. Envelopes are parsed by code that never panics (FuzzEnvelope); one
// that does not parse is moved to corrupt/ with its body, never deleted.
// Queue ids name files, so Put accepts only letters, digits, '.', '_' and
// '-'.
//
// # Limits
//
// MaxMessages messages (default 10,000: Put returns ErrFull, which the MTA
// answers with 452 4.3.1, insufficient system storage); bounces are
// admitted beyond the limit, as they are owed for mail already accepted.
// The MTA bounds body size (its SIZE limit); the queue holds each body in
// memory only during Put and during an attempt. At most 10,000 recipients
// per message, envelope files of at most 8 MiB, 64-octet ids, 512-octet
// addresses, 1,000-octet diagnostics. Workers (default 4) attempts run at
// once; a message due while they are all busy waits for one.
package queue

import (
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Errors Put may return (wrapped).
var (
	// ErrFull: the queue holds MaxMessages messages. The MTA answers
	// "452 4.3.1 Insufficient system storage" (RFC 5321 section 4.5.3.1.10,
	// RFC 3463).
	ErrFull = errors.New("queue: full")
	// ErrExists: a message with this id is already queued.
	ErrExists = errors.New("queue: id already queued")
	// ErrStopped: Stop was called; the queue accepts nothing more.
	ErrStopped = errors.New("queue: stopped")
	// ErrLocked: another queue has the directory open (Open).
	ErrLocked = errors.New("queue: directory locked")
)

// Defaults of Options.
const (
	DefaultMaxAge      = 5 * 24 * time.Hour // RFC 5321 section 4.5.4.1: at least 4-5 days
	DefaultWorkers     = 4
	DefaultMaxMessages = 10000
)

// DefaultSchedule is used when Options.Schedule is nil: waits before the
// second, third, ... attempt, the last repeating. RFC 5321 section 4.5.4.1
// asks for at least 30 minutes between retries to one destination, and
// finds that two attempts in the first hour work well; this default starts
// sooner, like Postfix's 300 s minimal_backoff_time, and settles at 30m.
var DefaultSchedule = []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute}

// Options configure a Queue.
type Options struct {
	Dir      string // the queue directory (created if missing); one queue per MTA
	Name     string // the MTA's agent name, for notes
	Hostname string // the MTA's host name: Reporting-MTA of DSNs, From: MAILER-DAEMON@Hostname; "" means Name
	// Schedule holds the waits before attempt 2, 3, ...; the last one
	// repeats. nil means DefaultSchedule (RFC 5321 section 4.5.4.1).
	Schedule []time.Duration
	// MaxAge: give up after this long in the queue (measured with the
	// real clock from Put, whatever Now says);
	// 0 means DefaultMaxAge, 5 days (RFC 5321 section 4.5.4.1).
	MaxAge time.Duration
	// Now is the clock for dates in envelopes and DSNs and for MaxAge;
	// nil means time.Now. Timers use real time: a message is attempted
	// Next.Sub(Now()) of real time after it was scheduled.
	Now func() time.Time
	// IDs makes queue ids for bounces; nil means 12 random hexadecimal
	// digits in upper case.
	IDs func() string
	// Deliver makes one attempt for some recipients of one message.
	// Required.
	Deliver Deliverer
	// Note receives remarks for the transcript, each about one queue id
	// ("" for the queue itself); nil means none. It is called from the
	// queue's goroutines, after the state it reports is on disk.
	Note func(id, text string)
	// Workers bounds concurrent attempts; 0 means DefaultWorkers.
	Workers int
	// MaxMessages bounds the messages in the queue; 0 means
	// DefaultMaxMessages (10,000).
	MaxMessages int
	// Hold, when set, is called before each attempt and may wait; the
	// function it returns is called once the attempt is over: results on
	// disk, notes made, bounces queued, next attempt scheduled. An error
	// skips the attempt (it is due again at once). A lab uses it to let
	// one attempt happen at a time, so that its transcript renders the
	// same twice.
	Hold func(ctx context.Context) (release func(), err error)
}

// Deliverer makes one delivery attempt of m to rcpts (all still pending)
// and returns one Result per recipient, in any order. ctx ends when the
// queue stops. A recipient without a Result counts as a temporary failure.
// body is the message as given to Put; the Deliverer must not keep it or m
// after it returns.
type Deliverer func(ctx context.Context, m *Message, body []byte, rcpts []string) []Result

// Result is the outcome of one attempt for one recipient.
type Result struct {
	Rcpt       string
	Delivered  bool
	Temporary  bool   // when !Delivered: retry later (4xx, refused connection, timeout, DNS temporary failure)
	Status     string // RFC 3463 code, e.g. "5.1.1", "4.4.1"
	Diagnostic string // for the DSN's Diagnostic-Code, e.g. "smtp; 550 5.1.1 <x@b.example>: User unknown"
	RemoteMTA  string // host that gave the answer, e.g. "mx.b.example"; "" if none
}

// Message is a queued message as List and ReadDir show it and as the
// Deliverer gets it.
type Message struct {
	ID       string
	From     string // envelope reverse-path without <>; "" is the null path <>
	Rcpts    []Recipient
	Arrived  time.Time
	Size     int64
	Attempts int
	Next     time.Time // next attempt
	Bounce   bool      // this message is itself a DSN
}

// Recipient is one recipient of a queued message.
type Recipient struct {
	Addr        string
	State       string // StatePending, StateDelivered, StateFailed, StateExpired
	Attempts    int
	LastStatus  string // e.g. "4.4.1"
	LastDiag    string
	RemoteMTA   string    // host of the last answer, "" if none
	LastAttempt time.Time // zero before the first attempt
	DSN         string    // queue id of the bounce reporting this failure; "" if none
}

// entry is a message in memory.
type entry struct {
	env       *envelope // replaced, never modified, once published
	due       time.Time // real time of the next attempt
	index     int       // position in the heap; -1 when not there
	inFlight  bool      // an attempt owns it
	reserving bool      // Put is writing it
	held      bool      // a bounce not released yet by its original's attempt
}

// Queue is a mail queue on disk with its scheduler.
type Queue struct {
	opts                               Options
	tmpDir, msgDir, envDir, corruptDir string

	mu       sync.Mutex
	entries  map[string]*entry
	due      dueHeap
	started  bool
	stopped  bool
	lockFile *os.File

	wake   chan struct{} // pokes the scheduler; capacity 1
	slots  chan struct{} // one token per running attempt; capacity Workers
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // scheduler and attempts
	puts   sync.WaitGroup // Puts in progress
}

// Open opens (creating it if needed) the queue directory opts.Dir and loads
// what it holds, recovering from a crash: files in tmp/ and bodies without
// a committed envelope are removed; envelopes that do not parse are moved
// to corrupt/ (with a Note). It starts nothing: call Start.
func Open(opts Options) (*Queue, error) {
	if opts.Dir == "" {
		return nil, errors.New("queue: Options.Dir is required")
	}
	if opts.Deliver == nil {
		return nil, errors.New("queue: Options.Deliver is required")
	}
	if opts.Hostname == "" {
		opts.Hostname = opts.Name
	}
	if opts.Hostname == "" {
		opts.Hostname = "localhost"
	}
	if opts.Schedule == nil {
		opts.Schedule = DefaultSchedule
	}
	opts.Schedule = slices.Clone(opts.Schedule)
	for i, d := range opts.Schedule {
		if d < 0 {
			opts.Schedule[i] = 0
		}
	}
	if len(opts.Schedule) == 0 {
		opts.Schedule = []time.Duration{0}
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.IDs == nil {
		opts.IDs = randomID
	}
	if opts.Note == nil {
		opts.Note = func(string, string) {}
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.MaxMessages <= 0 {
		opts.MaxMessages = DefaultMaxMessages
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	opts.Dir = dir
	q := &Queue{
		opts:       opts,
		tmpDir:     filepath.Join(dir, "tmp"),
		msgDir:     filepath.Join(dir, "msg"),
		envDir:     filepath.Join(dir, "env"),
		corruptDir: filepath.Join(dir, "corrupt"),
		entries:    make(map[string]*entry),
		wake:       make(chan struct{}, 1),
		slots:      make(chan struct{}, opts.Workers),
	}
	q.ctx, q.cancel = context.WithCancel(context.Background())
	for _, d := range []string{dir, q.tmpDir, q.msgDir, q.envDir, q.corruptDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("queue: %w", err)
		}
	}
	if q.lockFile, err = lockDir(dir); err != nil {
		return nil, err
	}
	if err := q.recover(); err != nil {
		_ = q.lockFile.Close()
		return nil, err
	}
	return q, nil
}

// recover loads the directory after a stop or a crash.
func (q *Queue) recover() error {
	// Files in tmp/ belong to writes that never committed.
	tmps, err := os.ReadDir(q.tmpDir)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	for _, t := range tmps {
		_ = os.RemoveAll(filepath.Join(q.tmpDir, t.Name()))
	}
	envs, err := os.ReadDir(q.envDir)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	realNow, now := time.Now(), q.opts.Now()
	for _, de := range envs {
		name := de.Name()
		id, ok := strings.CutSuffix(name, ".json")
		if !ok || !validID(id) {
			q.quarantine(name, "", fmt.Errorf("not an envelope name"))
			continue
		}
		env, err := readEnvelope(filepath.Join(q.envDir, name))
		if err == nil && env.ID != id {
			err = fmt.Errorf("envelope of %q in the file of %q", env.ID, id)
		}
		if err == nil {
			if _, serr := os.Stat(q.bodyPath(id)); serr != nil {
				err = fmt.Errorf("no body: %w", serr)
			}
		}
		if err != nil {
			q.quarantine(name, id, err)
			continue
		}
		e := &entry{env: env, index: -1}
		e.due = realNow.Add(max(0, env.Next.Sub(now)))
		q.entries[id] = e
		heap.Push(&q.due, e)
	}
	// A bounce queued just before a crash, whose original does not yet say
	// so, waits for the original's attempt to record it: were it delivered
	// and removed first, that attempt would queue it again.
	for _, e := range q.entries {
		for _, r := range e.env.Rcpts {
			if b := q.entries[r.DSN]; r.DSN != "" && !r.DSNQueued && b != nil && !b.held {
				b.held = true
				heap.Remove(&q.due, b.index)
			}
		}
	}
	// A body without its envelope is a Put that did not return: the
	// client got no 250 and will send again.
	bodies, err := os.ReadDir(q.msgDir)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	for _, b := range bodies {
		id, _ := strings.CutSuffix(b.Name(), ".eml")
		if _, ok := q.entries[id]; !ok {
			_ = os.Remove(filepath.Join(q.msgDir, b.Name()))
		}
	}
	return nil
}

// quarantine moves env/name and its body, if any, to corrupt/, so that
// one bad file stops neither the queue nor the other messages, and a
// person can look at it.
func (q *Queue) quarantine(name, id string, why error) {
	dst := func(base string) string {
		p := filepath.Join(q.corruptDir, base)
		for i := 1; ; i++ {
			if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) || i > 1000 {
				return p
			}
			p = filepath.Join(q.corruptDir, fmt.Sprintf("%s.%d", base, i))
		}
	}
	err := os.Rename(filepath.Join(q.envDir, name), dst(name))
	if id != "" {
		_ = os.Rename(q.bodyPath(id), dst(id+".eml"))
	}
	_ = syncDir(q.corruptDir)
	_ = syncDir(q.envDir)
	if err != nil {
		q.opts.Note(id, fmt.Sprintf("corrupt envelope %s could not be moved aside: %v (%v)", name, err, why))
		return
	}
	q.opts.Note(id, fmt.Sprintf("corrupt envelope %s moved to corrupt/: %v", name, why))
}

func (q *Queue) bodyPath(id string) string { return filepath.Join(q.msgDir, id+".eml") }
func (q *Queue) envPath(id string) string  { return filepath.Join(q.envDir, id+".json") }

// Put queues a message: body is the message as received (header and body,
// CRLF line endings as on the wire), from its reverse-path without <> (""
// for the null path), rcpts its forward-paths (a recipient given twice is
// kept once). The message is on disk when Put returns nil: only then may
// the MTA answer 250 (RFC 5321 section 6.1). When the queue is started, the
// first attempt is made at once.
func (q *Queue) Put(id, from string, rcpts []string, body []byte) error {
	return q.put(id, from, rcpts, body, false, false)
}

// put is Put; bounce marks a DSN (admitted beyond MaxMessages), held
// keeps it from being attempted until release.
func (q *Queue) put(id, from string, rcpts []string, body []byte, bounce, held bool) error {
	if !validID(id) {
		return fmt.Errorf("queue: invalid queue id %q (letters, digits, '.', '_', '-'; at most %d)", id, maxIDBytes)
	}
	if from != "" && !validAddr(from) {
		return fmt.Errorf("queue: %s: invalid reverse-path %q", id, from)
	}
	if len(rcpts) == 0 {
		return fmt.Errorf("queue: %s: no recipients", id)
	}
	if len(rcpts) > maxRcpts {
		return fmt.Errorf("queue: %s: %d recipients, at most %d", id, len(rcpts), maxRcpts)
	}
	now := q.opts.Now()
	env := &envelope{Version: envelopeVersion, ID: id, From: from, Arrived: now, Queued: time.Now(), Next: now, Size: int64(len(body)), Bounce: bounce}
	seen := make(map[string]bool, len(rcpts))
	for _, r := range rcpts {
		if !validAddr(r) {
			return fmt.Errorf("queue: %s: invalid recipient %q", id, r)
		}
		if !seen[r] {
			seen[r] = true
			env.Rcpts = append(env.Rcpts, rcptRecord{Addr: r, State: StatePending})
		}
	}
	data, err := env.marshal()
	if err != nil {
		return err
	}

	q.mu.Lock()
	switch {
	case q.stopped:
		q.mu.Unlock()
		return fmt.Errorf("queue: %s: %w", id, ErrStopped)
	case q.entries[id] != nil:
		q.mu.Unlock()
		return fmt.Errorf("queue: %s: %w", id, ErrExists)
	case !bounce && len(q.entries) >= q.opts.MaxMessages:
		q.mu.Unlock()
		return fmt.Errorf("queue: %s: %d messages: %w", id, len(q.entries), ErrFull)
	}
	e := &entry{env: env, index: -1, reserving: true, held: held}
	q.entries[id] = e
	q.puts.Add(1)
	q.mu.Unlock()
	defer q.puts.Done()

	if err := q.writeNew(id, body, data); err != nil {
		q.mu.Lock()
		delete(q.entries, id)
		q.mu.Unlock()
		return err
	}
	q.mu.Lock()
	e.reserving = false
	e.due = time.Now()
	if !held {
		heap.Push(&q.due, e)
	}
	q.mu.Unlock()
	q.poke()
	return nil
}

// writeNew commits a new message: body first, then the envelope, whose
// presence commits it.
func (q *Queue) writeNew(id string, body, envData []byte) error {
	bodyPath := q.bodyPath(id)
	if err := writeDurable(q.tmpDir, bodyPath, body); err != nil {
		return err
	}
	if err := writeDurable(q.tmpDir, q.envPath(id), envData); err != nil {
		_ = os.Remove(bodyPath)
		return err
	}
	return nil
}

// release lets a held bounce be attempted.
func (q *Queue) release(id string) {
	q.mu.Lock()
	if e := q.entries[id]; e != nil && e.held {
		e.held = false
		e.due = time.Now()
		if !e.inFlight && e.index < 0 {
			heap.Push(&q.due, e)
		}
	}
	q.mu.Unlock()
	q.poke()
}

// poke wakes the scheduler without waiting.
func (q *Queue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Start starts the scheduler: due messages, including those recovered by
// Open, are attempted. Start after Start or after Stop does nothing.
func (q *Queue) Start() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started || q.stopped {
		return
	}
	q.started = true
	q.wg.Add(1)
	go q.run()
}

// Stop stops scheduling, cancels the attempts in progress (their ctx) and
// waits, until ctx ends, for every goroutine of the queue to return; then
// it releases the directory. What an interrupted attempt achieved is
// recorded; its temporary failures are not counted as attempts, and the
// message is due again at the next Start. Put fails with ErrStopped after
// Stop. Stop is safe twice and without Start.
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
	q.cancel()
	done := make(chan struct{})
	go func() {
		q.wg.Wait()
		q.puts.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("queue: stop: %w", ctx.Err())
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.lockFile != nil {
		err := q.lockFile.Close()
		q.lockFile = nil
		if err != nil {
			return fmt.Errorf("queue: closing lock: %w", err)
		}
	}
	return nil
}

// List returns a snapshot of the queue, sorted by arrival then id.
func (q *Queue) List() []Message {
	q.mu.Lock()
	ms := make([]Message, 0, len(q.entries))
	for _, e := range q.entries {
		if !e.reserving {
			ms = append(ms, e.env.message())
		}
	}
	q.mu.Unlock()
	sortMessages(ms)
	return ms
}

// Kick makes every message with pending recipients due now (`maillab queue
// --flush`). Messages in an attempt are not attempted twice at once.
func (q *Queue) Kick() {
	now := time.Now()
	q.mu.Lock()
	for _, e := range q.entries {
		if e.reserving || e.held || e.inFlight {
			continue
		}
		e.due = now
		if e.index >= 0 {
			heap.Fix(&q.due, e.index)
		} else {
			heap.Push(&q.due, e)
		}
	}
	q.mu.Unlock()
	q.poke()
}

// Len returns the number of messages with pending recipients.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, e := range q.entries {
		if !e.reserving && e.env.hasPending() {
			n++
		}
	}
	return n
}

// ReadDir reads the envelopes of the queue directory dir without opening it
// for delivery (no lock, nothing changed): `maillab queue --dir` on a
// running or stopped lab. Envelopes renamed or removed while it reads, and
// envelopes that do not parse, are skipped.
func ReadDir(dir string) ([]Message, error) {
	envDir := filepath.Join(dir, "env")
	des, err := os.ReadDir(envDir)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	var ms []Message
	for _, de := range des {
		id, ok := strings.CutSuffix(de.Name(), ".json")
		if !ok || !validID(id) {
			continue
		}
		env, err := readEnvelope(filepath.Join(envDir, de.Name()))
		if err != nil || env.ID != id {
			// Gone (the message finished, or its envelope is being
			// replaced: rename is atomic, so the next look finds it) or
			// corrupt (Open will move it aside).
			continue
		}
		ms = append(ms, env.message())
	}
	sortMessages(ms)
	return ms, nil
}

func sortMessages(ms []Message) {
	slices.SortFunc(ms, func(a, b Message) int {
		if c := a.Arrived.Compare(b.Arrived); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// message returns e as a Message, sharing nothing with it.
func (e *envelope) message() Message {
	m := Message{ID: e.ID, From: e.From, Arrived: e.Arrived, Size: e.Size, Attempts: e.Attempts, Next: e.Next, Bounce: e.Bounce}
	m.Rcpts = make([]Recipient, len(e.Rcpts))
	for i, r := range e.Rcpts {
		m.Rcpts[i] = Recipient{Addr: r.Addr, State: r.State, Attempts: r.Attempts, LastStatus: r.LastStatus,
			LastDiag: r.LastDiag, RemoteMTA: r.RemoteMTA, LastAttempt: r.LastAttempt, DSN: r.DSN}
	}
	return m
}

func (e *envelope) clone() *envelope {
	c := *e
	c.Rcpts = slices.Clone(e.Rcpts)
	return &c
}

func (e *envelope) hasPending() bool {
	for i := range e.Rcpts {
		if e.Rcpts[i].State == StatePending {
			return true
		}
	}
	return false
}

// randomID returns 12 random hexadecimal digits in upper case.
func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24)
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// dueHeap orders entries by due time.
type dueHeap []*entry

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *dueHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.index = -1
	*h = old[:len(old)-1]
	return e
}
