package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/maillab/maillab/agents/mua"
	"github.com/maillab/maillab/protocols/imap/imapclient"
	"github.com/maillab/maillab/protocols/pop3"
	"github.com/maillab/maillab/transcripts"
)

// fetchOptions are the flags of "maillab fetch".
type fetchOptions struct {
	transcriptOptions
	pop3     string
	imap     string
	user     string
	password string
	folder   string
	delete   bool
	listOnly bool
	tls      tlsFlags
}

func newFetchCmd(s streams, g *globalOptions) *cobra.Command {
	o := &fetchOptions{}
	cmd := &cobra.Command{
		Use:   "fetch (--pop3 | --imap) HOST:PORT --user USER --password PASSWORD",
		Short: "Read a mailbox over POP3 or IMAP and show the dialogue",
		Long: `Log in to a POP3 or IMAP server, list the messages and print them, showing
every line of the dialogue: the reading half of what "maillab send" does for
SMTP. It works against a running "maillab up" (see the POP3 and IMAP endpoints
it prints) and against any other server you may reach.

POP3 leaves the messages on the server unless --delete is given: then it sends
DELE for each and QUIT, and the server removes them in the UPDATE state
(RFC 1939 section 6) — the "POP takes the mail away" of the classroom. IMAP
reads the folder with FETCH BODY[], which marks the messages \Seen on the
server, where every other device will see it (RFC 3501 section 6.4.5).

With --json the transcript comes as JSON Lines, followed by one object
{"messages":[{"id","from","subject","date","size","flags","text"}],"summary":...}.

The exit code is 0 when the messages were read, 1 when the server refused
(a wrong password, a folder that does not exist), 4 when it could not be
reached.`,
		Example: `  maillab fetch --pop3 127.0.0.1:2602 --user bob@example.test --password bob
  maillab fetch --pop3 127.0.0.1:2602 --user bob@example.test --password bob --delete
  maillab fetch --imap 127.0.0.1:2603 --user bob@example.test --password bob --folder Archive --explain
  maillab fetch --imap 127.0.0.1:2993 --tls implicit --cacert lab-ca.pem --user bob@a.example --password bob`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFetch(cmd.Context(), s, g, o)
		},
	}
	o.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.pop3, "pop3", "", "read over POP3 from this server, HOST:PORT")
	f.StringVar(&o.imap, "imap", "", "read over IMAP from this server, HOST:PORT")
	f.StringVar(&o.user, "user", "", "the login name, e.g. bob@example.test (required)")
	f.StringVar(&o.password, "password", "", "the password (required)")
	f.StringVar(&o.folder, "folder", "INBOX", "IMAP: the folder to read")
	f.BoolVar(&o.delete, "delete", false, "POP3: delete the messages from the server after downloading them")
	f.BoolVar(&o.listOnly, "list-only", false, "list the messages without printing them (over IMAP without reading them, so no \\Seen is set)")
	o.tls.add(cmd, "POP3S on 995, IMAPS on 993")
	_ = cmd.MarkFlagRequired("user")
	_ = cmd.MarkFlagRequired("password")
	cmd.MarkFlagsOneRequired("pop3", "imap")
	cmd.MarkFlagsMutuallyExclusive("pop3", "imap")
	cmd.MarkFlagsMutuallyExclusive("imap", "delete")
	return cmd
}

// fetched is one message as "maillab fetch" reports it.
type fetched struct {
	ID      string   `json:"id"` // POP3 UIDL or IMAP UID
	From    string   `json:"from"`
	Subject string   `json:"subject"`
	Date    string   `json:"date,omitempty"`
	Size    int64    `json:"size"`
	Flags   []string `json:"flags,omitempty"`
	Text    string   `json:"text,omitempty"`
}

func runFetch(ctx context.Context, s streams, g *globalOptions, o *fetchOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	rec := transcripts.NewRecorder(transcripts.Options{MaxEvents: -1}) // events go to the renderer only
	detach := o.attach(rec, s.out, g.useColor(s, s.outIsTTY))
	defer detach()
	mode, tcfg, err := o.tls.config()
	if err != nil {
		return err
	}
	u, err := mua.New(mua.Config{Name: o.user, Hostname: "maillab-fetch", Recorder: rec, TLS: tcfg})
	if err != nil {
		return withCode(exitUsage, err)
	}
	var msgs []fetched
	var summary string
	if o.pop3 != "" {
		res, ferr := u.FetchPOP3(ctx, o.pop3, o.user, o.password, mua.POP3Options{Delete: o.delete, TLS: mode})
		err = ferr
		if res != nil {
			for _, m := range res.Messages {
				msgs = append(msgs, fetched{ID: m.UID, From: m.From, Subject: m.Subject, Date: m.Date, Size: m.Size, Text: string(m.Raw)})
			}
			summary = fmt.Sprintf("%d downloaded, %d deleted, %d left on the server", len(res.Messages), res.Deleted, res.LeftOnServer)
		}
	} else {
		res, ferr := u.FetchIMAPWith(ctx, o.imap, o.user, o.password, o.folder, mode, o.listOnly)
		err = ferr
		for _, m := range res {
			msgs = append(msgs, fetched{ID: fmt.Sprint(m.UID), From: m.From, Subject: m.Subject, Date: m.Date, Size: m.Size, Flags: m.Flags, Text: string(m.Raw)})
		}
		summary = fmt.Sprintf("%d messages in %s, all still on the server", len(res), o.folder)
	}
	detach()
	if len(msgs) > 0 || err == nil {
		if werr := printFetched(s.out, o, msgs, summary); werr != nil {
			return withCode(exitRuntime, werr)
		}
	}
	if err != nil {
		var perr *pop3.Error
		var ierr *imapclient.Error
		switch {
		case errors.As(err, &perr), errors.As(err, &ierr):
			return withCode(exitFailed, err)
		case ctx.Err() != nil:
			return withCode(exitInterrupted, err)
		}
		return withCode(exitRuntime, err)
	}
	return nil
}

func printFetched(w io.Writer, o *fetchOptions, msgs []fetched, summary string) error {
	if o.json {
		if o.listOnly {
			for i := range msgs {
				msgs[i].Text = ""
			}
		}
		return json.NewEncoder(w).Encode(map[string]any{"messages": msgs, "summary": summary})
	}
	fmt.Fprintf(w, "\n%-4s %-12s %-28s %-36s %8s\n", "#", "id", "from", "subject", "size")
	for i, m := range msgs {
		fmt.Fprintf(w, "%-4d %-12s %-28s %-36s %8d\n", i+1, clip(m.ID, 12), clip(m.From, 28), clip(m.Subject, 36), m.Size)
	}
	fmt.Fprintf(w, "%s\n", summary)
	if o.listOnly {
		return nil
	}
	for i, m := range msgs {
		fmt.Fprintf(w, "\n----- message %d (id %s) -----\n%s", i+1, m.ID, strings.ReplaceAll(m.Text, "\r\n", "\n"))
		if !strings.HasSuffix(m.Text, "\n") {
			fmt.Fprintln(w)
		}
	}
	return nil
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
