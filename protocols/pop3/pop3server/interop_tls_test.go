package pop3server

// Interop tests of STLS and POP3S: Python's poplib, curl and openssl
// s_client, each checking the server's certificate against a CA made for
// the test. A missing tool skips the test, and fails it under CI=true.

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

const poplibTLSScript = `
import poplib, ssl, sys
host, port, ca, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
if mode == "stls":
    p = poplib.POP3(host, port, timeout=60)
    print("before", " ".join(sorted(p.capa())))
    try:
        p.user("bob")
    except poplib.error_proto as e:
        print("user in clear", e.args[0].decode())
    print("stls", p.stls(context=ctx).decode())
else:
    p = poplib.POP3_SSL(host, port, context=ctx, timeout=60)
print("tls", p.sock.version())
print("after", " ".join(sorted(p.capa())))
p.user("bob")
p.pass_("secret")
print("stat", *p.stat())
print("retr", [l.decode() for l in p.retr(1)[1]])
print("quit", p.quit().decode())
`

func TestInteropPythonPoplibTLS(t *testing.T) {
	py := testtool.RequireWorkingTool(t, "python3", "-c", "import poplib, ssl")
	p := tlstest.New(t)
	caFile := p.WritePEM(t)
	after := "after AUTH-RESP-CODE IMPLEMENTATION PIPELINING RESP-CODES SASL TOP UIDL USER"
	common := []string{
		"stat 2 " + itoa(len(msg1)+len(msg2)),
		"retr ['From: alice@example.test', 'Subject: one', '', 'Hello Bob.']",
		"quit +OK maillab POP3 server signing off (0 messages deleted)",
	}
	t.Run("STLS", func(t *testing.T) {
		_, addr := startServer(t, tlsOptions(p), bobBackend())
		host, port, _ := net.SplitHostPort(addr)
		got := strings.Split(strings.TrimSpace(testtool.Output(t, safety, py, "-c", poplibTLSScript, host, port, caFile, "stls")), "\n")
		want := append([]string{
			"before AUTH-RESP-CODE IMPLEMENTATION PIPELINING RESP-CODES STLS TOP UIDL",
			"user in clear -ERR [AUTH] TLS required: send STLS first (no passwords in clear here; APOP works)",
			"stls +OK Begin TLS negotiation",
			"tls TLSv1.3",
			after,
		}, common...)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("poplib STLS session (-want +got):\n%s", diff)
		}
	})
	t.Run("POP3_SSL", func(t *testing.T) {
		opts := tlsOptions(p)
		opts.ImplicitTLS = true
		_, addr := startServer(t, opts, bobBackend())
		host, port, _ := net.SplitHostPort(addr)
		got := strings.Split(strings.TrimSpace(testtool.Output(t, safety, py, "-c", poplibTLSScript, host, port, caFile, "ssl")), "\n")
		want := append([]string{"tls TLSv1.3", after}, common...)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("poplib POP3_SSL session (-want +got):\n%s", diff)
		}
	})
}

func TestInteropCurlTLS(t *testing.T) {
	curl := testtool.RequireWorkingTool(t, "curl", "--version")
	p := tlstest.New(t)
	caFile := p.WritePEM(t)
	list := "1 " + itoa(len(msg1)) + "\r\n2 " + itoa(len(msg2)) + "\r\n"
	t.Run("pop3 with STLS", func(t *testing.T) {
		_, addr := startServer(t, tlsOptions(p), bobBackend())
		// --ssl-reqd: STLS or fail; curl then asks CAPA again and logs in
		// with AUTH PLAIN inside TLS.
		args := []string{"-sS", "--max-time", "60", "--ssl-reqd", "--cacert", caFile}
		if got := testtool.Output(t, safety, curl, append(args, "pop3://bob:secret@"+addr+"/")...); got != list {
			t.Errorf("curl LIST = %q, want %q", got, list)
		}
		if got := testtool.Output(t, safety, curl, append(args, "pop3://bob:secret@"+addr+"/2")...); got != msg2 {
			t.Errorf("curl RETR 2 = %q, want %q", got, msg2)
		}
	})
	t.Run("pop3s", func(t *testing.T) {
		opts := tlsOptions(p)
		opts.ImplicitTLS = true
		_, addr := startServer(t, opts, bobBackend())
		if got := testtool.Output(t, safety, curl, "-sS", "--max-time", "60", "--cacert", caFile, "pop3s://bob:secret@"+addr+"/"); got != list {
			t.Errorf("curl pop3s LIST = %q, want %q", got, list)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		_, addr := startServer(t, tlsOptions(p), bobBackend())
		// Without the CA curl must refuse the server's certificate.
		ctx, cancel := context.WithTimeout(context.Background(), safety)
		defer cancel()
		out, err := exec.CommandContext(ctx, curl, "-sS", "--max-time", "60", "--ssl-reqd", "pop3://bob:secret@"+addr+"/").CombinedOutput()
		// curl exit code 60: the peer certificate cannot be authenticated.
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 60 {
			t.Errorf("curl without the CA: %v, want exit code 60\n%s", err, out)
		}
	})
}

func TestInteropOpenSSLStartTLSPOP3(t *testing.T) {
	openssl := testtool.RequireWorkingTool(t, "openssl", "version")
	p := tlstest.New(t)
	caFile := p.WritePEM(t)
	_, addr := startServer(t, tlsOptions(p), bobBackend())
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", addr, "-starttls", "pop3",
		"-CAfile", caFile, "-verify_return_error", "-verify_ip", "127.0.0.1", "-crlf", "-ign_eof")
	cmd.Stdin = strings.NewReader("USER bob\nPASS secret\nSTAT\nQUIT\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl s_client: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Verify return code: 0 (ok)",
		"+OK send PASS",
		"+OK bob's maildrop has 2 messages",
		"+OK 2 " + itoa(len(msg1)+len(msg2)),
		"+OK maillab POP3 server signing off",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("openssl s_client output lacks %q:\n%s", want, out)
		}
	}
}
