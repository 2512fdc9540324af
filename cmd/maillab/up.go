package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/maillab/maillab/scenarios"
	"github.com/maillab/maillab/transcripts"
)

// upOptions are the flags and arguments of "maillab up".
type upOptions struct {
	transcriptOptions
	scenario  string
	dir       string
	portBase  int
	jsonInfo  bool
	wellKnown bool
}

func newUpCmd(s streams, g *globalOptions) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up [NAME|FILE]",
		Short: "Start a scenario's agents and keep them running for real clients",
		Long: `Start a scenario's agents and keep them listening until Ctrl-C, so that people
can talk to them with telnet, swaks, curl, Python or Thunderbird. The scenario's
steps are not played: the lab waits for you.

It prints every endpoint and account, then the transcript of every connection.
With --json it prints, once everything listens, one JSON object on stdout:

  {"agents":[{"name":..., "kind":..., "domains":[...], "listen":{"smtp":"127.0.0.1:PORT"}}],
   "users":[{"address":..., "password":...}], "maildir":"PATH"}

and the transcript as text on stderr. Scripts and tests drive a lab this way.`,
		Example: `  maillab up
  maillab up --port-base 2525          # stable ports for a classroom
  maillab up --json --dir ./lab-state`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeScenarios,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.scenario = scenarios.Default
			if len(args) == 1 {
				o.scenario = args[0]
			}
			return runUp(cmd.Context(), s, g, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.explain, "explain", false, "explain every command and reply under its line")
	f.StringVar(&o.lang, "lang", "en", "language of the explanations: en or es")
	f.BoolVar(&o.showBody, "show-body", false, "print every line of message bodies instead of the first few")
	o.addViewFlags(cmd)
	f.BoolVar(&o.jsonInfo, "json", false, "print the endpoints as one JSON object on stdout (the transcript goes to stderr)")
	f.StringVar(&o.dir, "dir", "", "keep the lab's state (Maildirs) in this directory instead of a temporary one")
	f.IntVar(&o.portBase, "port-base", 0, "listen on stable ports N, N+1, ... instead of ports the system picks")
	f.BoolVar(&o.wellKnown, "well-known-ports", false, "in a lab with a dns agent, listen on 25, 24, 110, 143 and 53 (needs root)")
	return cmd
}

func runUp(ctx context.Context, s streams, g *globalOptions, o *upOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	sc, err := loadScenario(o.scenario)
	if err != nil {
		return err
	}
	rec := transcripts.NewRecorder(transcripts.Options{MaxEvents: -1}) // events go to the renderer only
	lab, err := scenarios.Start(ctx, sc, scenarios.Options{Dir: o.dir, Recorder: rec, PortBase: o.portBase, WellKnownPorts: o.wellKnown})
	if err != nil {
		return withCode(exitRuntime, err)
	}
	info := lab.Info()
	tw, tty := s.out, s.outIsTTY
	if o.jsonInfo {
		enc := json.NewEncoder(s.out)
		if err := enc.Encode(info); err != nil {
			_ = lab.Stop(context.WithoutCancel(ctx))
			return withCode(exitRuntime, fmt.Errorf("writing the lab description: %w", err))
		}
		tw, tty = s.err, s.errIsTTY
	} else {
		printLab(s.out, sc, info)
	}
	detach := o.attach(rec, tw, g.useColor(s, tty))
	<-ctx.Done()
	detach()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := lab.Stop(stopCtx); err != nil {
		return withCode(exitRuntime, err)
	}
	return nil
}

// printLab tells people where the lab listens and who can log in.
func printLab(w io.Writer, sc *scenarios.Scenario, info scenarios.LabInfo) {
	fmt.Fprintf(w, "maillab: lab %q is up. Press Ctrl-C to stop it.\n\n", sc.Name)
	fmt.Fprintln(w, "Agents:")
	for _, a := range info.Agents {
		var eps []string
		protos := make([]string, 0, len(a.Listen))
		for p := range a.Listen {
			protos = append(protos, p)
		}
		sort.Strings(protos)
		for _, p := range protos {
			eps = append(eps, fmt.Sprintf("%s %s", strings.ToUpper(p), a.Listen[p]))
		}
		where := "(client only)"
		if len(eps) > 0 {
			where = strings.Join(eps, ", ")
		}
		domains := ""
		if len(a.Domains) > 0 {
			domains = " for " + strings.Join(a.Domains, ", ")
		}
		fmt.Fprintf(w, "  %-22s %-10s %s%s\n", a.Name, a.Kind, where, domains)
	}
	fmt.Fprintln(w, "\nAccounts:")
	for _, u := range info.Users {
		fmt.Fprintf(w, "  %-28s password %s\n", u.Address, u.Password)
	}
	fmt.Fprintf(w, "\nMaildirs: %s\n", info.Maildir)
	if len(info.Queues) > 0 {
		fmt.Fprintf(w, "Queues:   %s (see them with: maillab queue --dir %s)\n", filepath.Dir(info.Queues[0].Dir), info.Dir)
	}
	if info.CA != "" {
		fmt.Fprintf(w, "Lab CA:   %s (trust it in clients; maillab ca export --dir %s -o lab-ca.pem)\n", info.CA, info.Dir)
		fmt.Fprintln(w, "TLS:      SUBMISSION = port 587, STARTTLS then AUTH (RFC 6409); SUBMISSIONS = 465, POP3S = 995, IMAPS = 993: TLS from the first byte (RFC 8314); SMTP, POP3 and IMAP offer STARTTLS/STLS")
	}
	for _, a := range info.Agents {
		if addr, ok := a.Listen["dns"]; ok {
			host, port := splitHostPort(addr)
			fmt.Fprintf(w, "DNS:      dig @%s -p %s MX <domain>   (dig +tcp for TCP)\n", host, port)
		}
	}
	if host, port, to, ok := tryIt(info); ok {
		fmt.Fprintf(w, "\nTry it:\n  swaks --server %s --port %s --to %s\n  telnet %s %s\n", host, port, to, host, port)
		for _, a := range info.Agents {
			if sub, ok := a.Listen["submission"]; ok && info.CA != "" {
				if u, ok := userIn(info, a.Domains); ok {
					shost, sport := splitHostPort(sub)
					fmt.Fprintf(w, "  swaks --server %s --port %s --tls --tls-verify --tls-ca-path %s --auth PLAIN --auth-user %s --auth-password %s --from %s --to %s\n", shost, sport, info.CA, u.Address, u.Password, u.Address, u.Address)
					fmt.Fprintf(w, "  openssl s_client -connect %s -starttls smtp -CAfile %s\n", sub, info.CA)
				}
			}
		}
		if len(info.Queues) > 0 {
			// Mail between domains: from this machine (127.0.0.1) the
			// MTAs relay only for users who log in.
			doms := domainOfAgent(info, host, port)
			if u, ok := userIn(info, doms); ok {
				other := "someone@elsewhere.example"
				for _, x := range info.Users {
					if _, mine := userIn(scenarios.LabInfo{Users: []scenarios.UserInfo{x}}, doms); !mine {
						other = x.Address
					}
				}
				fmt.Fprintf(w, "  swaks --server %s --port %s --auth PLAIN --auth-user %s --auth-password %s --from %s --to %s\n", host, port, u.Address, u.Password, u.Address, other)
			}
		}
		for _, a := range info.Agents {
			u, ok := userIn(info, a.Domains)
			if !ok {
				continue
			}
			if addr, ok := a.Listen["pop3"]; ok {
				fmt.Fprintf(w, "  maillab fetch --pop3 %s --user %s --password %s%s\n", addr, u.Address, u.Password, tlsHint(info))
			}
			if addr, ok := a.Listen["imap"]; ok {
				ihost, iport := splitHostPort(addr)
				fmt.Fprintf(w, "  maillab fetch --imap %s --user %s --password %s%s\n", addr, u.Address, u.Password, tlsHint(info))
				if saddr, ok := a.Listen["imaps"]; ok {
					_, sport := splitHostPort(saddr)
					fmt.Fprintf(w, "  curl --cacert %s imaps://%s:%s/INBOX --user %s:%s\n", info.CA, ihost, sport, u.Address, u.Password)
					fmt.Fprintf(w, "  Thunderbird: IMAP server %s, port %s, SSL/TLS, normal password, user %s (import the lab CA first)\n", ihost, sport, u.Address)
				} else {
					fmt.Fprintf(w, "  Thunderbird: IMAP server %s, port %s, no connection security, normal password, user %s\n", ihost, iport, u.Address)
				}
			}
		}
	}
	fmt.Fprintln(w)
}

// tryIt picks an MTA and one of the users it receives mail for.
func tryIt(info scenarios.LabInfo) (host, port, to string, ok bool) {
	for _, a := range info.Agents {
		addr, listens := a.Listen["smtp"]
		if !listens {
			continue
		}
		// The last user is usually the recipient of the scenario's story.
		for i := len(info.Users) - 1; i >= 0; i-- {
			u := info.Users[i]
			for _, d := range a.Domains {
				if strings.HasSuffix(strings.ToLower(u.Address), "@"+strings.ToLower(d)) {
					host, port = splitHostPort(addr)
					return host, port, u.Address, true
				}
			}
		}
	}
	return "", "", "", false
}

// userIn returns the last user of the lab in one of domains (usually the
// recipient of the scenario's story).
func userIn(info scenarios.LabInfo, domains []string) (scenarios.UserInfo, bool) {
	for i := len(info.Users) - 1; i >= 0; i-- {
		u := info.Users[i]
		for _, d := range domains {
			if strings.HasSuffix(strings.ToLower(u.Address), "@"+strings.ToLower(d)) {
				return u, true
			}
		}
	}
	return scenarios.UserInfo{}, false
}

// domainOfAgent returns the domains of the agent listening on host:port.
func domainOfAgent(info scenarios.LabInfo, host, port string) []string {
	for _, a := range info.Agents {
		if a.Listen["smtp"] == host+":"+port {
			return a.Domains
		}
	}
	return nil
}

func splitHostPort(addr string) (string, string) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr, ""
	}
	return addr[:i], addr[i+1:]
}

// tlsHint is what fetch needs against a lab whose servers require TLS
// before a password.
func tlsHint(info scenarios.LabInfo) string {
	if info.CA == "" {
		return ""
	}
	return " --tls starttls --cacert " + info.CA
}
