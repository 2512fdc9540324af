package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/maillab/maillab/agents/mua"
)

// tlsFlags are the TLS choices of the commands that talk to a server:
// send and fetch.
type tlsFlags struct {
	mode   string // "", "starttls", "implicit"
	cacert string // PEM file of the roots to trust (the lab CA)
}

func (t *tlsFlags) add(cmd *cobra.Command, implicitPorts string) {
	f := cmd.Flags()
	f.StringVar(&t.mode, "tls", "", "protect the session: starttls (STARTTLS/STLS, then log in) or implicit (TLS from the first byte: "+implicitPorts+")")
	f.StringVar(&t.cacert, "cacert", "", "trust the certificates this PEM file signs (the lab CA: maillab ca export); default: the system's roots")
	_ = cmd.RegisterFlagCompletionFunc("tls", cobra.FixedCompletions([]string{"starttls", "implicit"}, cobra.ShellCompDirectiveNoFileComp))
}

// config returns the MUA's TLS mode and client configuration.
func (t *tlsFlags) config() (mua.TLSMode, *tls.Config, error) {
	switch t.mode {
	case "":
		if t.cacert != "" {
			return "", nil, withCode(exitUsage, errors.New("--cacert needs --tls starttls or --tls implicit"))
		}
		return mua.TLSNone, nil, nil
	case "starttls", "implicit":
	default:
		return "", nil, withCode(exitUsage, fmt.Errorf("--tls %q: give starttls or implicit", t.mode))
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.cacert != "" {
		pem, err := os.ReadFile(t.cacert)
		if err != nil {
			return "", nil, withCode(exitUsage, fmt.Errorf("--cacert: %w", err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return "", nil, withCode(exitUsage, fmt.Errorf("--cacert %s: no PEM certificate in it", t.cacert))
		}
		cfg.RootCAs = pool
	}
	return mua.TLSMode(t.mode), cfg, nil
}
