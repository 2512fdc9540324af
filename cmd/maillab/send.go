package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/maillab/maillab/agents/mua"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/transcripts"
)

// sendOptions are the flags of "maillab send".
type sendOptions struct {
	transcriptOptions
	server       string
	from         string
	to           []string
	subject      string
	body         string
	bodyFile     string
	helo         string
	tls          tlsFlags
	authUser     string
	authPassword string
}

func newSendCmd(s streams, g *globalOptions) *cobra.Command {
	o := &sendOptions{}
	cmd := &cobra.Command{
		Use:   "send --server HOST:PORT --from ADDRESS --to ADDRESS",
		Short: "Send one message to any SMTP server and show the dialogue",
		Long: `Compose one message (RFC 5322: Date, Message-ID, From, To, Subject, MIME) and
send it to an SMTP server, printing every line of the dialogue: the lab's own
answer to telnet and swaks. It works against a running "maillab up" as well as
any other server you may reach.

The exit code is 0 when the server accepted the message for every recipient,
1 when it refused it (or some recipients), 4 when the server could not be reached.`,
		Example: `  maillab send --server 127.0.0.1:2525 --from alice@example.test --to bob@example.test --subject Hi --body "Hello Bob"
  maillab send --server 127.0.0.1:2525 --from alice@example.test --to bob@example.test --body-file letter.txt --explain --lang es`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSend(cmd.Context(), s, g, o)
		},
	}
	o.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "the SMTP server, HOST:PORT (required)")
	f.StringVar(&o.from, "from", "", `the sender, "alice@example.test" or "Alice <alice@example.test>" (required)`)
	f.StringSliceVar(&o.to, "to", nil, "a recipient; repeat the flag or separate with commas (required)")
	f.StringVar(&o.subject, "subject", "A message from maillab", "the Subject header")
	f.StringVar(&o.body, "body", "", "the message text")
	f.StringVar(&o.bodyFile, "body-file", "", `read the message text from this file ("-" for standard input)`)
	f.StringVar(&o.helo, "helo", "", "the name to give in EHLO (default: the sender's domain)")
	o.tls.add(cmd, "submissions on 465")
	f.StringVar(&o.authUser, "auth-user", "", "log in with AUTH PLAIN as this user before MAIL (submission on 587 and 465 needs it)")
	f.StringVar(&o.authPassword, "auth-password", "", "the password for --auth-user")
	_ = cmd.MarkFlagRequired("server")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	cmd.MarkFlagsMutuallyExclusive("body", "body-file")
	return cmd
}

func runSend(ctx context.Context, s streams, g *globalOptions, o *sendOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	body := o.body
	if o.bodyFile != "" {
		var b []byte
		var err error
		if o.bodyFile == "-" {
			b, err = io.ReadAll(s.in)
		} else {
			b, err = os.ReadFile(o.bodyFile)
		}
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("--body-file: %w", err))
		}
		body = string(b)
	}
	from := o.from
	fromAddr := from
	if i := strings.LastIndexByte(from, '<'); i >= 0 && strings.HasSuffix(from, ">") {
		fromAddr = from[i+1 : len(from)-1]
	}
	sender, err := mail.ParseAddress(fromAddr)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("--from %q: %w", o.from, err))
	}
	for _, t := range o.to {
		if _, err := mail.ParseAddress(t); err != nil {
			return withCode(exitUsage, fmt.Errorf("--to %q: %w", t, err))
		}
	}
	helo := o.helo
	if helo == "" {
		helo = sender.Domain
	}

	rec := transcripts.NewRecorder(transcripts.Options{MaxEvents: -1}) // events go to the renderer only
	detach := o.attach(rec, s.out, g.useColor(s, s.outIsTTY))
	defer detach()
	mode, tcfg, err := o.tls.config()
	if err != nil {
		return err
	}
	if (o.authUser == "") != (o.authPassword == "") {
		return withCode(exitUsage, errors.New("give --auth-user and --auth-password together"))
	}
	u, err := mua.New(mua.Config{Name: sender.String(), Hostname: helo, Recorder: rec, TLS: tcfg})
	if err != nil {
		return withCode(exitUsage, err)
	}
	res, err := u.SendWith(ctx, o.server, mua.Draft{From: from, To: o.to, Subject: o.subject, Body: body},
		mua.SendOptions{TLS: mode, User: o.authUser, Password: o.authPassword})
	detach()
	if err != nil {
		var se *smtp.Error
		if errors.As(err, &se) {
			return withCode(exitFailed, err)
		}
		if ctx.Err() != nil {
			return withCode(exitInterrupted, ctx.Err())
		}
		return withCode(exitRuntime, err)
	}
	if len(res.Refused) > 0 {
		var lines []string
		for rcpt, rerr := range res.Refused {
			lines = append(lines, fmt.Sprintf("%s: %v", rcpt, rerr))
		}
		sort.Strings(lines)
		return withCode(exitFailed, fmt.Errorf("refused recipients:\n  %s", strings.Join(lines, "\n  ")))
	}
	return nil
}
