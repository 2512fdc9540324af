package imapserver

// Interop tests of STARTTLS and IMAPS: Python's imaplib, curl and openssl
// s_client, each checking the server's certificate against a CA made for
// the test. A missing tool skips the test on a developer's machine and
// fails it under CI (CI=true), where every client is installed.

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/maillab/maillab/internal/testtool"
	"github.com/maillab/maillab/internal/tlstest"
)

const imaplibTLSScript = `
import imaplib, ssl, sys
host, port, ca, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
if mode == "starttls":
    M = imaplib.IMAP4(host, port, timeout=60)
    print("before", " ".join(M.capabilities))
    try:
        M.login("bob", "secret")
    except imaplib.IMAP4.error as e:
        print("login in clear", e)
    print("starttls", M.starttls(ssl_context=ctx)[0])
else:
    M = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=60)
print("tls", M.sock.version())
print("after", " ".join(M.capabilities))
print("login", M.login("bob", "secret")[0])
print("select", *M.select("INBOX"))
typ, data = M.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print("fetch", typ, data[0][1].decode().strip())
print("logout", M.logout()[0])
`

func TestInteropPythonImaplibTLS(t *testing.T) {
	py := testtool.RequireWorkingTool(t, "python3", "-c", "import imaplib, ssl")
	p := tlstest.New(t)
	caFile := p.WritePEM(t)
	common := []string{
		"after " + strings.ToUpper(wantCapsAfter),
		"login OK",
		"select OK [b'1']",
		"fetch OK Subject: Lunch",
		"logout BYE",
	}
	t.Run("starttls", func(t *testing.T) {
		_, addr := startServer(t, tlsOptions(p), newBackend(t, 1))
		host, port, _ := net.SplitHostPort(addr)
		got := strings.Split(strings.TrimSpace(testtool.Output(t, safety, py, "-c", imaplibTLSScript, host, port, caFile, "starttls")), "\n")
		want := append([]string{
			"before " + strings.ToUpper(wantCapsBefore), // imaplib upper-cases them
			"login in clear b'[PRIVACYREQUIRED] LOGIN is disabled until TLS is active: use STARTTLS first'",
			"starttls OK",
			"tls TLSv1.3",
		}, common...)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("imaplib STARTTLS session (-want +got):\n%s", diff)
		}
	})
	t.Run("IMAP4_SSL", func(t *testing.T) {
		opts := tlsOptions(p)
		opts.ImplicitTLS = true
		_, addr := startServer(t, opts, newBackend(t, 1))
		host, port, _ := net.SplitHostPort(addr)
		got := strings.Split(strings.TrimSpace(testtool.Output(t, safety, py, "-c", imaplibTLSScript, host, port, caFile, "ssl")), "\n")
		want := append([]string{"tls TLSv1.3"}, common...)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("imaplib IMAP4_SSL session (-want +got):\n%s", diff)
		}
	})
}

func TestInteropCurlTLS(t *testing.T) {
	curl := testtool.RequireWorkingTool(t, "curl", "--version")
	p := tlstest.New(t)
	caFile := p.WritePEM(t)
	t.Run("imap with STARTTLS", func(t *testing.T) {
		_, addr := startServer(t, tlsOptions(p), newBackend(t, 1))
		// --ssl-reqd: STARTTLS or fail; curl asks CAPABILITY again inside
		// TLS and logs in there.
		got := testtool.Output(t, safety, curl, "-sS", "--max-time", "60", "--ssl-reqd", "--cacert", caFile, "imap://bob:secret@"+addr+"/INBOX;UID=1")
		if got != testMessage {
			t.Errorf("curl imap:// = %q, want %q", got, testMessage)
		}
	})
	t.Run("imaps", func(t *testing.T) {
		opts := tlsOptions(p)
		opts.ImplicitTLS = true
		_, addr := startServer(t, opts, newBackend(t, 1))
		got := testtool.Output(t, safety, curl, "-sS", "--max-time", "60", "--cacert", caFile, "imaps://bob:secret@"+addr+"/INBOX;UID=1")
		if got != testMessage {
			t.Errorf("curl imaps:// = %q, want %q", got, testMessage)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		_, addr := startServer(t, tlsOptions(p), newBackend(t, 1))
		ctx, cancel := context.WithTimeout(context.Background(), safety)
		defer cancel()
		out, err := exec.CommandContext(ctx, curl, "-sS", "--max-time", "60", "--ssl-reqd", "imap://bob:secret@"+addr+"/INBOX;UID=1").CombinedOutput()
		// curl exit code 60: the peer certificate cannot be authenticated.
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 60 {
			t.Errorf("curl without the CA: %v, want exit code 60\n%s", err, out)
		}
	})
}

func TestInteropOpenSSLStartTLSIMAP(t *testing.T) {
	openssl := testtool.RequireWorkingTool(t, "openssl", "version")
	p := tlstest.New(t)
	caFile := p.WritePEM(t)
	_, addr := startServer(t, tlsOptions(p), newBackend(t, 1))
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", addr, "-starttls", "imap",
		"-CAfile", caFile, "-verify_return_error", "-verify_ip", "127.0.0.1", "-crlf", "-ign_eof")
	cmd.Stdin = strings.NewReader("a CAPABILITY\nb LOGIN bob secret\nc STATUS INBOX (MESSAGES)\nd LOGOUT\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl s_client: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Verify return code: 0 (ok)",
		"* CAPABILITY " + wantCapsAfter + "\r\na OK CAPABILITY completed",
		"b OK [CAPABILITY ",
		"* STATUS INBOX (MESSAGES 1)",
		"d OK LOGOUT completed",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("openssl s_client output lacks %q:\n%s", want, out)
		}
	}
}
