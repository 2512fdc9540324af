// Package testtool finds and runs the external programs that interop tests
// talk to (swaks, curl, openssl, python3, dig). A missing program skips the
// test on a developer's machine and fails it under CI (CI=true), where
// .ci/run installs every client.
//
// It is test support for every package of the module and imports nothing
// of maillab's.
package testtool

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// packages names the Debian package of a program where the two names
// differ, for the "apt-get install" hint.
var packages = map[string]string{
	"dig": "bind9-dnsutils",
}

// Package returns the Debian package that installs the program name.
func Package(name string) string {
	if p, ok := packages[name]; ok {
		return p
	}
	return name
}

// CI reports whether the tests run under CI (the environment variable CI
// is "true"), where every interop client must be present.
func CI() bool { return os.Getenv("CI") == "true" }

// Unavailable stops t because something an interop test needs is missing:
// under CI it fails t with msg, elsewhere it skips t with msg.
func Unavailable(t testing.TB, msg string) {
	t.Helper()
	if CI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// RequireTool returns the path of the program name, found in $PATH. When it
// is missing it skips t on a developer's machine and fails t under CI.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if CI() {
		t.Fatalf("%s is not installed: under CI every interop client must be present (.ci/run installs it; Debian package %s)", name, Package(name))
	}
	t.Skipf("%s is not installed; install it to run this interop test (apt-get install %s)", name, Package(name))
	return ""
}

// RequireWorkingTool is RequireTool that also runs the program with args
// (a version flag, an import of the modules a script needs) and treats a
// failure of that run as a missing program.
func RequireWorkingTool(t testing.TB, name string, args ...string) string {
	t.Helper()
	p := RequireTool(t, name)
	out, err := exec.Command(p, args...).CombinedOutput()
	if err == nil {
		return p
	}
	why := fmt.Sprintf("%s %q: %v", p, args, err)
	if out := strings.TrimSpace(string(out)); out != "" {
		why += ": " + out
	}
	if CI() {
		t.Fatalf("%s is not usable (%s): under CI every interop client must be present (.ci/run installs it; Debian package %s)", name, why, Package(name))
	}
	t.Skipf("%s is not usable (%s); install it to run this interop test (apt-get install %s)", name, why, Package(name))
	return ""
}

// Output runs the program name with args, giving it timeout to finish, and
// returns its standard output; if the program fails, Output fails t with
// both outputs.
func Output(t testing.TB, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v\nstdout:\n%s\nstderr:\n%s", name, args, err, out, stderr.String())
	}
	return string(out)
}
