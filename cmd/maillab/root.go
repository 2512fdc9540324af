package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes. They are part of the CLI's contract: scripts and CI rely on
// them, and the README lists them.
const (
	exitOK          = 0   // everything ran and every expectation held
	exitFailed      = 1   // the lab ran but an expectation failed, or the server refused the message
	exitUsage       = 2   // wrong flags or arguments
	exitBadScenario = 3   // the scenario file has mistakes (reported as file:line:col)
	exitRuntime     = 4   // the lab could not run: a port in use, a server unreachable, a disk error
	exitInterrupted = 130 // stopped by Ctrl-C or by "q" in step mode (128 + SIGINT, as shells do)
)

// exitError carries an exit code through cobra's error return.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// streams are the command's standard files; tests replace them with buffers.
type streams struct {
	in       io.Reader
	out      io.Writer
	err      io.Writer
	outIsTTY bool
	errIsTTY bool
	getenv   func(string) string
}

func stdStreams() streams {
	return streams{
		in:       os.Stdin,
		out:      os.Stdout,
		err:      os.Stderr,
		outIsTTY: isTerminal(os.Stdout),
		errIsTTY: isTerminal(os.Stderr),
		getenv:   os.Getenv,
	}
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// globalOptions are the flags every command shares.
type globalOptions struct {
	noColor bool
}

// useColor decides color for a stream: only on a terminal, never when
// NO_COLOR is set to anything non-empty (no-color.org) or --no-color is given.
func (g *globalOptions) useColor(s streams, tty bool) bool {
	if g.noColor || s.getenv("NO_COLOR") != "" || s.getenv("TERM") == "dumb" {
		return false
	}
	return tty
}

func newRootCmd(s streams) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "maillab",
		Short: "An e-mail protocol lab: real mail agents on real sockets, and every line they say",
		Long: `maillab starts real mail agents (MTA, MDA, MUA) on loopback sockets, wires them
into the topology a scenario describes, and prints the protocol dialogue between
them as a transcript a class can read line by line, with explanations in English
and Spanish.

Start here:
  maillab run                 run the default scenario (Alice writes to Bob)
  maillab run --explain       the same, with an explanation under every line
  maillab run pop-vs-imap     two devices read one mailbox: POP3 versus IMAP
  maillab scenarios           list the scenarios that ship with maillab
  maillab up                  keep a lab running for telnet, swaks or Thunderbird
  maillab fetch --imap ...    read a mailbox over IMAP (or --pop3) and see the dialogue

Exit codes: 0 ok, 1 an expectation failed or a message was refused, 2 usage
error, 3 the scenario file has mistakes, 4 the lab could not run, 130 stopped.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.PersistentFlags().BoolVar(&g.noColor, "no-color", false, "never color the output (NO_COLOR=1 does the same)")
	root.AddCommand(
		newRunCmd(s, g),
		newUpCmd(s, g),
		newSendCmd(s, g),
		newFetchCmd(s, g),
		newRelaytestCmd(s, g),
		newQueueCmd(s, g),
		newScenariosCmd(s, g),
		newCACmd(s, g),
	)
	return root
}

// execute runs the CLI and returns the process exit code.
func execute(ctx context.Context, args []string, s streams) int {
	root := newRootCmd(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitUsage
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case errors.Is(err, context.Canceled):
		code = exitInterrupted
	}
	fmt.Fprintf(s.err, "maillab: %v\n", err)
	return code
}
