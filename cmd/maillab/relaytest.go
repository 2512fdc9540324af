package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/maillab/maillab/agents/relaytest"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/transcripts"
	"github.com/maillab/maillab/transcripts/render"
)

// relaytestOptions are the flags of "maillab relaytest".
type relaytestOptions struct {
	server   string
	explain  bool
	lang     string
	showBody bool
	json     bool
	quiet    bool
	domain   string
	toDomain string
	from     string
	helo     string
	timeout  time.Duration
	probes   []string
}

func newRelaytestCmd(s streams, g *globalOptions) *cobra.Command {
	o := &relaytestOptions{}
	cmd := &cobra.Command{
		Use:   "relaytest HOST:PORT",
		Short: "Probe an SMTP server with the classic open-relay tests",
		Long: `Test whether an SMTP server is an open relay: a server that accepts mail from
anyone, for anyone, and passes it on to other domains. Spammers hunt for open
relays to send through them, under the relay's name and on its bandwidth. A
well-run MTA accepts mail from strangers only for its own domains, and relays
to other domains only for its own users (SMTP AUTH) or trusted networks.
RFC 5321 section 3.6.2 makes relaying a policy decision and asks a server that
refuses it to say 550; RFC 2505 (BCP 30) asks MTAs not to relay by default and
to see through the address tricks below; RFC 5068 (BCP 134) asks operators
never to run an open relay.

relaytest runs the classic battery of sixteen probes (the one of Nmap's
smtp-open-relay and Metasploit's smtp_relay), each in an SMTP session of its
own, after a first session that reads the server's name from its greeting.
With D the foreign domain (--to-domain), SRV the server's domain and [IP] its
address literal:

` + batteryTable() + `
A probe counts as RELAYED only when the server accepts the recipient AND the
message after the final "." (the 250 after DATA): only then would a real
message leave. A recipient accepted but the message refused at DATA is a
near-miss: nothing leaves, but the server noticed late.

D defaults to relay-test.invalid, a name reserved never to exist (RFC 2606,
RFC 6761), so even an open relay cannot deliver the test messages anywhere.
Test only servers you run or are allowed to test.

The exit code is 0 when no probe relayed (not an open relay), 1 when at least
one did (an open relay), 2 for a usage error, 4 when the server could not be
reached or some probe could not finish, 130 when interrupted.`,
		Example: `  maillab relaytest 127.0.0.1:2525
  maillab relaytest 127.0.0.1:2525 --quiet
  maillab relaytest 127.0.0.1:2525 --probe percent-host --probe bang-path-host --explain --lang es
  maillab relaytest mx.example.test:25 --domain example.test --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("relaytest takes one argument, the server as HOST:PORT (got %d)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.server = args[0]
			return runRelaytest(cmd.Context(), s, g, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.explain, "explain", false, "explain every command and reply under its line")
	f.StringVar(&o.lang, "lang", "en", "language of the probes' and the lines' explanations: en or es")
	f.BoolVar(&o.showBody, "show-body", false, "print every line of the test messages instead of the first few")
	f.BoolVar(&o.json, "json", false, `print only a JSON report: {"open": bool, "probes": [{"name", "mail_from", "rcpt_to", "verdict", "stage", "reply", ...}], ...}`)
	f.BoolVar(&o.quiet, "quiet", false, "print only the verdicts, not the dialogue")
	f.StringVar(&o.domain, "domain", "", "the server's own domain, forged into the probes (default: from its greeting)")
	f.StringVar(&o.toDomain, "to-domain", relaytest.DefaultToDomain, "the foreign domain the probes try to reach")
	f.StringVar(&o.from, "from", relaytest.DefaultFrom, "the tester's sender address; its local part is forged into the server's domain")
	f.StringVar(&o.helo, "helo", "", "the name to give in EHLO (default: the domain of --from)")
	f.DurationVar(&o.timeout, "timeout", relaytest.DefaultTimeout, "the longest wait for each step: connecting, each reply")
	f.StringSliceVar(&o.probes, "probe", nil, "run only this probe (repeat the flag or separate with commas)")
	cmd.MarkFlagsMutuallyExclusive("json", "quiet")
	_ = cmd.RegisterFlagCompletionFunc("lang", cobra.FixedCompletions([]string{"en", "es"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("probe", cobra.FixedCompletions(relaytest.Names(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// batteryTable lists the probes with placeholders, for the help text.
func batteryTable() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, p := range relaytest.Battery(relaytest.Params{Domain: "SRV", Literal: "[IP]", ToDomain: "D", From: "antispam@D"}) {
		fmt.Fprintf(tw, "  %2d\t%s\tMAIL FROM:%s\tRCPT TO:%s\n", p.Number, p.Name, p.MailFrom, p.RcptTo)
	}
	tw.Flush()
	return b.String()
}

func (o *relaytestOptions) validate() error {
	switch o.lang {
	case "en", "es":
	default:
		return withCode(exitUsage, fmt.Errorf("--lang %q: choose en or es", o.lang))
	}
	if _, _, err := net.SplitHostPort(o.server); err != nil {
		return withCode(exitUsage, fmt.Errorf("%q: give the server as HOST:PORT, e.g. 127.0.0.1:2525 or mx.example.test:25", o.server))
	}
	if _, err := mail.ParseAddress(o.from); err != nil {
		return withCode(exitUsage, fmt.Errorf("--from: %w", err))
	}
	if _, err := mail.ParseAddress("x@" + o.toDomain); err != nil || strings.HasPrefix(o.toDomain, "[") {
		return withCode(exitUsage, fmt.Errorf("--to-domain %q: not a domain name", o.toDomain))
	}
	if o.domain != "" {
		if _, err := mail.ParseAddress("x@" + o.domain); err != nil {
			return withCode(exitUsage, fmt.Errorf("--domain %q: not a domain name or address literal", o.domain))
		}
	}
	if strings.ContainsAny(o.helo, " \t\r\n") {
		return withCode(exitUsage, fmt.Errorf("--helo %q: one word, a host name", o.helo))
	}
	if o.timeout <= 0 {
		return withCode(exitUsage, fmt.Errorf("--timeout %v: must be positive", o.timeout))
	}
	names := relaytest.Names()
	for _, p := range o.probes {
		found := false
		for _, n := range names {
			found = found || n == p
		}
		if !found {
			return withCode(exitUsage, fmt.Errorf("--probe %q: the probes are %s", p, strings.Join(names, ", ")))
		}
	}
	return nil
}

func runRelaytest(ctx context.Context, s streams, g *globalOptions, o *relaytestOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	w := s.out
	opts := relaytest.Options{
		Domain:   o.domain,
		ToDomain: o.toDomain,
		From:     o.from,
		Helo:     o.helo,
		Timeout:  o.timeout,
		Probes:   o.probes,
	}
	total := len(o.probes)
	if total == 0 {
		total = len(relaytest.Names())
	}
	switch {
	case o.json:
		// The report only; no transcript.
	case o.quiet:
		opts.OnResult = func(r relaytest.Result) { fmt.Fprintln(w, verdictLine(r)) }
	default:
		rec := transcripts.NewRecorder(transcripts.Options{MaxEvents: -1}) // events go to the renderer only
		text := render.NewText(w, render.Options{Color: g.useColor(s, s.outIsTTY), Explain: o.explain, Lang: o.lang, ShowBulk: o.showBody})
		cancel := rec.Subscribe(func(e transcripts.Event) { _ = text.Write(e) })
		defer cancel()
		opts.Dial = rec.Dialer(relaytest.DefaultAgent, "smtp", nil)
		fmt.Fprintf(w, "Open-relay test of %s: %d probes, foreign domain %s. First, who is the server?\n\n", o.server, total, o.toDomain)
		opts.OnStart = func(r relaytest.Report) {
			_ = text.Flush()
			fmt.Fprintf(w, "\nThe server's domain: %s (%s); its address literal: %s.\n", r.Domain, domainSource(r.DomainFrom), r.Literal)
		}
		opts.OnProbe = func(p relaytest.Probe) {
			fmt.Fprintf(w, "\nProbe %d/%d %s: MAIL FROM:%s RCPT TO:%s\n", p.Number, len(relaytest.Names()), p.Name, p.MailFrom, p.RcptTo)
			fmt.Fprintf(w, "  %s\n", p.Explain(o.lang))
		}
		opts.OnResult = func(r relaytest.Result) {
			_ = text.Flush()
			fmt.Fprintln(w, verdictLine(r))
		}
	}

	rep, err := relaytest.Run(ctx, o.server, opts)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return withCode(exitInterrupted, err)
		case errors.Is(err, relaytest.ErrUnreachable):
			return withCode(exitRuntime, err)
		}
		return withCode(exitUsage, err)
	}
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return withCode(exitRuntime, err)
		}
	} else {
		if !o.quiet {
			fmt.Fprintln(w)
			summaryTable(w, rep)
		}
		fmt.Fprintln(w, conclusion(rep))
	}
	relayed, inconclusive := rep.Count(relaytest.Relayed), rep.Count(relaytest.Inconclusive)
	switch {
	case rep.Open:
		return withCode(exitFailed, fmt.Errorf("%s is an open relay: %d of %d probes relayed", o.server, relayed, len(rep.Results)))
	case inconclusive > 0:
		return withCode(exitRuntime, fmt.Errorf("%s: %d of %d probes could not finish; no verdict", o.server, inconclusive, len(rep.Results)))
	}
	return nil
}

func domainSource(from string) string {
	switch from {
	case "option":
		return "given with --domain"
	case "address literal":
		return "neither its greeting nor its EHLO reply names one: using its address literal"
	}
	return "from its " + from
}

// verdictLine is what follows a probe's transcript.
func verdictLine(r relaytest.Result) string {
	return fmt.Sprintf("=> %d %s: %s", r.Number, r.Name, r)
}

// shortVerdict is the verdict column of the summary: "refused at RCPT (550
// 5.7.1)".
func shortVerdict(r relaytest.Result) string {
	code := ""
	if f := strings.Fields(r.Reply); len(f) > 0 {
		code = f[0]
		if len(f) > 1 && strings.Count(f[1], ".") == 2 && strings.Trim(f[1], "0123456789.") == "" {
			code += " " + f[1]
		}
	}
	var s string
	switch r.Verdict {
	case relaytest.Relayed:
		s = "RELAYED"
	case relaytest.NearMiss:
		s = "near-miss, refused at " + r.Stage
	case relaytest.Refused:
		s = "refused at " + r.Stage
	default:
		s = "inconclusive at " + r.Stage
	}
	if code != "" {
		s += " (" + code + ")"
	}
	return s
}

func summaryTable(w io.Writer, rep relaytest.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tPROBE\tMAIL FROM\tRCPT TO\tVERDICT")
	for _, r := range rep.Results {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.Number, r.Name, r.MailFrom, r.RcptTo, shortVerdict(r))
	}
	tw.Flush()
}

// conclusion is the last line: the server's verdict.
func conclusion(rep relaytest.Report) string {
	n := len(rep.Results)
	who := fmt.Sprintf("%s (%s)", rep.Server, rep.Domain)
	var names []string
	for _, r := range rep.Results {
		if r.Verdict == relaytest.Relayed {
			names = append(names, r.Name)
		}
	}
	near := rep.Count(relaytest.NearMiss)
	nearText := ""
	if near > 0 {
		nearText = fmt.Sprintf("; %d near-misses (recipient accepted, message refused at DATA)", near)
	}
	switch {
	case rep.Open:
		return fmt.Sprintf("%s is an OPEN RELAY: %d of %d probes relayed (%s)%s.", who, len(names), n, strings.Join(names, ", "), nearText)
	case rep.Count(relaytest.Inconclusive) > 0:
		return fmt.Sprintf("%s: no probe relayed, but %d of %d could not finish: no verdict%s.", who, rep.Count(relaytest.Inconclusive), n, nearText)
	}
	return fmt.Sprintf("%s is not an open relay: %d of %d probes refused%s.", who, n-near, n, nearText)
}
