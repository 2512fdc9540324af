package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/maillab/maillab/agents/queue"
)

// queueReport is what "maillab queue --json" prints: one entry per MTA.
type queueReport struct {
	Agent    string          `json:"agent"`
	Messages []queue.Message `json:"messages"`
}

func newQueueCmd(s streams, g *globalOptions) *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "queue [AGENT...]",
		Short: "Show the mail waiting in the queues of a lab's MTAs (like mailq)",
		Long: `Show the messages waiting in the queues of a lab's MTAs: who sent them, to
whom, how many delivery attempts they have had, why the last one failed and
when the next one is due, like Postfix's mailq. It reads the lab's state
directory, so it works on a running lab and on a stopped or killed one:

  maillab up two-domains --dir ./lab      # in one terminal
  maillab queue --dir ./lab               # in another

"maillab up" prints the directory it uses. Name agents to see only their
queues. Exit code 0 when the queues could be read, 4 when not.`,
		Example: `  maillab queue --dir ./lab
  maillab queue --dir ./lab mx.a.example --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return withCode(exitUsage, errors.New("give --dir, the state directory of the lab (maillab up prints it)"))
			}
			reports, err := readQueues(dir, args)
			if err != nil {
				return withCode(exitRuntime, err)
			}
			if asJSON {
				return encodeJSON(s.out, reports)
			}
			printQueues(s.out, reports, time.Now())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "the lab's state directory (as given to or printed by maillab up)")
	f.BoolVar(&asJSON, "json", false, "print the queues as JSON")
	return cmd
}

func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return withCode(exitRuntime, err)
	}
	return nil
}

// readQueues reads DIR/queue/AGENT for every agent, or those named.
func readQueues(dir string, agents []string) ([]queueReport, error) {
	root := filepath.Join(dir, "queue")
	if len(agents) == 0 {
		entries, err := os.ReadDir(root)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%s has no queues: is it the directory of a lab with mail between domains (maillab up --dir %s two-domains)?", dir, dir)
			}
			return nil, fmt.Errorf("reading the queues: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() {
				agents = append(agents, e.Name())
			}
		}
		sort.Strings(agents)
	}
	out := []queueReport{}
	for _, a := range agents {
		if strings.ContainsAny(a, `/\`) || a == "." || a == ".." {
			return nil, fmt.Errorf("%q is not an agent name", a)
		}
		msgs, err := queue.ReadDir(filepath.Join(root, a))
		if err != nil {
			return nil, fmt.Errorf("queue of %s: %w", a, err)
		}
		if msgs == nil {
			msgs = []queue.Message{}
		}
		out = append(out, queueReport{Agent: a, Messages: msgs})
	}
	return out, nil
}

// printQueues prints the queues as mailq does.
func printQueues(w io.Writer, reports []queueReport, now time.Time) {
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if len(r.Messages) == 0 {
			fmt.Fprintf(w, "%s: the queue is empty\n", r.Agent)
			continue
		}
		fmt.Fprintf(w, "%s: %d %s waiting\n", r.Agent, len(r.Messages), pluralWord(len(r.Messages), "message"))
		fmt.Fprintf(w, "%-14s %8s  %-19s  %s\n", "Queue ID", "Size", "Arrived", "Sender / Recipient")
		for _, m := range r.Messages {
			from := "<" + m.From + ">"
			if m.Bounce {
				from += " (a bounce)"
			}
			fmt.Fprintf(w, "%-14s %8d  %-19s  %s\n", m.ID, m.Size, m.Arrived.Local().Format("2006-01-02 15:04:05"), from)
			for _, rc := range m.Rcpts {
				state := rc.State
				if rc.Attempts > 0 {
					state += fmt.Sprintf(", %d %s", rc.Attempts, pluralWord(rc.Attempts, "attempt"))
				}
				fmt.Fprintf(w, "%45s  %s (%s)\n", "", rc.Addr, state)
				if rc.LastDiag != "" && rc.State != "delivered" {
					fmt.Fprintf(w, "%45s    last: %s %s\n", "", rc.LastStatus, rc.LastDiag)
				}
			}
			if !m.Next.IsZero() {
				when := m.Next.Sub(now).Round(time.Second)
				if when < 0 {
					when = 0
				}
				fmt.Fprintf(w, "%45s    next attempt in %v\n", "", when)
			}
		}
	}
}

func pluralWord(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
