package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/maillab/maillab/agents/labca"
)

// caDir is where a lab keeps its certificate authority, under the state
// directory given to maillab up --dir.
func caDir(labDir string) string { return filepath.Join(labDir, "ca") }

// caExportOptions are the flags of "maillab ca export".
type caExportOptions struct {
	dir string // the lab's state directory
	out string // where to write the certificate; "" means stdout
}

func newCACmd(s streams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "The lab's certificate authority: export its certificate so clients trust the lab",
		Long: `Every lab signs the certificates of its servers (STARTTLS on 25, 587, 110 and
143; implicit TLS on 465, 993 and 995) with a certificate authority of its own,
kept in DIR/ca of the directory given to "maillab up --dir DIR". A client that
trusts that CA verifies the lab's servers like real ones; a client that does
not refuses them, or connects without checking anything.

The CA is made the first time a lab needs it and kept: a lab restarted on the
same directory keeps its CA, so a class imports it once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withCode(exitUsage, errors.New("name a subcommand: maillab ca export --dir DIR"))
		},
	}
	cmd.AddCommand(newCAExportCmd(s, g))
	return cmd
}

func newCAExportCmd(s streams, _ *globalOptions) *cobra.Command {
	o := &caExportOptions{}
	cmd := &cobra.Command{
		Use:   "export --dir DIR [-o FILE]",
		Short: "Write the lab's CA certificate (PEM), creating the CA if the lab has none yet",
		Long: `Write the certificate of the lab's certificate authority, in PEM, to FILE (or to
the standard output), and say how to make common clients trust it. The CA lives
in DIR/ca, DIR being the lab's state directory ("maillab up --dir DIR"); it is
created there if the lab has none yet. Only the certificate is written: the
CA's private key never leaves DIR/ca.

Exit codes: 0 written, 2 usage error, 4 the CA could not be read, made or
written.`,
		Example: `  maillab ca export --dir ./lab -o lab-ca.pem
  maillab ca export --dir ./lab > lab-ca.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.dir == "" {
				return withCode(exitUsage, errors.New("give --dir, the state directory of the lab (as given to maillab up --dir)"))
			}
			return runCAExport(s, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "the lab's state directory (as given to maillab up --dir)")
	f.StringVarP(&o.out, "output", "o", "", "write the certificate to this file instead of the standard output")
	return cmd
}

// runCAExport writes the CA certificate and the instructions: to stdout
// when the certificate goes to a file, else to stderr, so that
// "maillab ca export --dir lab > ca.pem" writes only the certificate.
func runCAExport(s streams, o *caExportOptions) error {
	ca, err := labca.Open(caDir(o.dir), nil)
	if err != nil {
		return withCode(exitRuntime, err)
	}
	file := o.out
	help := s.out
	if o.out == "" {
		if _, err := s.out.Write(ca.CertPEM()); err != nil {
			return withCode(exitRuntime, err)
		}
		file, help = ca.CertFile(), s.err
	} else if err := os.WriteFile(o.out, ca.CertPEM(), 0o644); err != nil {
		return withCode(exitRuntime, fmt.Errorf("writing the CA certificate: %w", err))
	}
	printTrustHelp(help, ca.Certificate().Subject.CommonName, file)
	return nil
}

// printTrustHelp says how to make common clients trust the CA in file.
func printTrustHelp(w io.Writer, name, file string) {
	fmt.Fprintf(w, `The lab's CA, %q, is in %s.
Trust it, for this lab only:
  curl:         curl --cacert %[2]s --ssl-reqd smtp://127.0.0.1:2587
  openssl:      openssl s_client -CAfile %[2]s -starttls smtp -connect 127.0.0.1:2587
  swaks:        swaks --tls --tls-ca-path %[2]s --tls-verify --server 127.0.0.1:2587
  Python:       ssl.create_default_context(cafile=%[2]q)
  Thunderbird:  Settings > Privacy & Security > Certificates > Manage Certificates >
                Authorities > Import, choose the file, tick "This certificate can identify websites"
Ports and addresses are examples: "maillab up" prints the lab's. Remove the CA
from Thunderbird when the class ends: whoever has the lab's directory can sign
certificates it would trust.
`, name, file)
}
