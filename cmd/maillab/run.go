package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/maillab/maillab/protocols/wire"
	"github.com/maillab/maillab/scenarios"
	"github.com/maillab/maillab/transcripts"
	"github.com/maillab/maillab/transcripts/explain"
)

// runOptions are the flags and arguments of "maillab run".
type runOptions struct {
	transcriptOptions
	scenario string
	step     bool
	dir      string
	portBase int
}

// errStopped is returned when the class stops a stepped run with "q".
var errStopped = errors.New("stopped at the class's request")

func newRunCmd(s streams, g *globalOptions) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run [NAME|FILE]",
		Short: "Run a scenario end to end and show its transcript",
		Long: `Run a scenario: start its agents on loopback sockets, play its steps (send
messages, type SMTP dialogues, check mailboxes), print every line that crosses a
socket, and stop. With no argument the default scenario, "` + scenarios.Default + `", runs.

NAME is one of the scenarios listed by "maillab scenarios"; FILE is a path to a
scenario YAML file of your own.

The exit code is 0 when every expectation held, 1 when one failed, 3 when the
scenario file has mistakes, 4 when the lab could not run, 130 when stopped.`,
		Example: `  maillab run
  maillab run --explain --lang es
  maillab run smtp-mistakes --step
  maillab run ./my-scenario.yaml --json > transcript.jsonl`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeScenarios,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.scenario = scenarios.Default
			if len(args) == 1 {
				o.scenario = args[0]
			}
			return runRun(cmd.Context(), s, g, o)
		},
	}
	o.addFlags(cmd)
	f := cmd.Flags()
	f.BoolVar(&o.step, "step", false, "pause before every client line: Enter sends it, q stops")
	f.StringVar(&o.dir, "dir", "", "keep the lab's state (Maildirs) in this directory instead of a temporary one")
	f.IntVar(&o.portBase, "port-base", 0, "listen on stable ports N, N+1, ... instead of ports the system picks")
	return cmd
}

// completeScenarios offers the embedded scenario names, and files.
func completeScenarios(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, info := range scenarios.List() {
		names = append(names, info.Name+"\t"+info.Description)
	}
	return names, cobra.ShellCompDirectiveDefault
}

// loadScenario maps loading errors to exit codes.
func loadScenario(name string) (*scenarios.Scenario, error) {
	sc, err := scenarios.Load(name)
	if err != nil {
		if errors.Is(err, scenarios.ErrNotFound) {
			return nil, withCode(exitUsage, err)
		}
		return nil, withCode(exitBadScenario, err)
	}
	return sc, nil
}

func runRun(ctx context.Context, s streams, g *globalOptions, o *runOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	sc, err := loadScenario(o.scenario)
	if err != nil {
		return err
	}
	rec := transcripts.NewRecorder(transcripts.Options{MaxEvents: -1}) // events go to the renderer only
	detach := o.attach(rec, s.out, g.useColor(s, s.outIsTTY))
	defer detach()

	opts := scenarios.Options{Dir: o.dir, Recorder: rec, PortBase: o.portBase}
	if o.step {
		st := &stepper{in: bufio.NewReader(s.in), out: s.err, lang: o.lang}
		opts.BeforeCommand = st.beforeCommand
		opts.Pause = st.pause
	}
	lab, err := scenarios.Start(ctx, sc, opts)
	if err != nil {
		return withCode(exitRuntime, err)
	}
	res, runErr := lab.Run(ctx)
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	stopErr := lab.Stop(stopCtx)
	detach()

	switch {
	case errors.Is(runErr, errStopped), ctx.Err() != nil:
		return withCode(exitInterrupted, errStopped)
	case runErr != nil:
		return withCode(exitRuntime, runErr)
	case stopErr != nil:
		return withCode(exitRuntime, stopErr)
	}
	summary := s.out
	if o.json {
		summary = s.err
	}
	printSummary(summary, sc, res)
	if o.dir != "" {
		fmt.Fprintf(summary, "the Maildirs are kept in %s\n", lab.Info().Maildir)
	}
	if res.Failed > 0 {
		return withCode(exitFailed, fmt.Errorf("%s: %d of %d steps failed", sc.Name, res.Failed, len(res.Steps)))
	}
	return nil
}

func printSummary(w io.Writer, sc *scenarios.Scenario, res *scenarios.Result) {
	for _, st := range res.Steps {
		if !st.OK {
			fmt.Fprintf(w, "FAIL %s: step %d (%s): %s\n", st.Pos, st.Index, st.Kind, st.Message)
		}
	}
	fmt.Fprintf(w, "%s: %d steps, %d passed, %d failed\n", sc.Name, len(res.Steps), len(res.Steps)-res.Failed, res.Failed)
}

// stepper pauses a run before every client line so a class can read it.
type stepper struct {
	in   *bufio.Reader
	out  io.Writer
	lang string
}

func (st *stepper) beforeCommand(agent, proto, line string) error {
	fmt.Fprintf(st.out, "\nnext  %s  %s  C: %s\n", agent, proto, line)
	if ex := explain.Explain(proto, wire.ClientToServer, line, st.lang); ex != "" {
		fmt.Fprintf(st.out, "      # %s\n", ex)
	}
	return st.wait("[Enter] send it, q stop: ")
}

func (st *stepper) pause(text string) error {
	fmt.Fprintf(st.out, "\npause  %s\n", text)
	return st.wait("[Enter] go on, q stop: ")
}

func (st *stepper) wait(prompt string) error {
	fmt.Fprint(st.out, prompt)
	answer, err := st.in.ReadString('\n')
	if err != nil && answer == "" {
		// End of input: nobody is there to press Enter.
		return fmt.Errorf("%w (end of input)", errStopped)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "q", "quit", "exit":
		return errStopped
	}
	return nil
}
