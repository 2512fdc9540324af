package maillab_test

// The layers of ../shared/ARCHITECTURE.md, checked over the real import
// graph: imports point down only.

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/maillab/maillab/"

func TestImportsPointDown(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	// forbidden[prefix of importer] = prefixes it may not import
	forbidden := []struct {
		importer string
		banned   []string
		why      string
	}{
		{"protocols/wire", []string{module}, "vocabulary and line I/O import nothing of ours"},
		{"protocols/", []string{module + "agents", module + "scenarios", module + "transcripts", module + "cmd", module + "lessons"}, "protocol packages never import agents, scenarios, transcripts or cmd"},
		{"agents/", []string{module + "scenarios", module + "cmd", module + "lessons"}, "agents never import scenarios or cmd"},
		{"transcripts", []string{module + "agents", module + "scenarios", module + "cmd", module + "lessons", module + "protocols/smtp", module + "protocols/pop3", module + "protocols/imap"}, "transcripts is a leaf used from the agents up"},
		{"scenarios", []string{module + "cmd", module + "lessons"}, "scenarios sit below lessons and cmd"},
		{"lessons", []string{module + "cmd"}, "nothing imports cmd"},
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := strings.TrimPrefix(fields[0], module), fields[1:]
		for _, imp := range imports {
			if imp == "github.com/fatih/color" && pkg != "transcripts/render" {
				t.Errorf("%s imports fatih/color: only transcripts/render decides how things look", pkg)
			}
			if strings.HasSuffix(pkg, "server") && strings.HasPrefix(imp, module) && strings.HasSuffix(imp, "client") ||
				strings.HasSuffix(pkg, "client") && strings.HasPrefix(imp, module) && strings.HasSuffix(imp, "server") {
				t.Errorf("%s imports %s: a server and its client never import each other", pkg, imp)
			}
			for _, rule := range forbidden {
				if !strings.HasPrefix(pkg, rule.importer) {
					continue
				}
				for _, b := range rule.banned {
					if strings.HasPrefix(imp, b) {
						t.Errorf("%s imports %s: %s", pkg, imp, rule.why)
					}
				}
			}
		}
	}
}
