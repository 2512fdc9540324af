package testtool

import (
	"testing"
	"time"
)

func TestMissingToolSkipsOffCI(t *testing.T) {
	t.Setenv("CI", "")
	var skipped bool
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		RequireTool(t, "maillab-no-such-tool")
		t.Error("RequireTool returned for a missing tool")
	})
	if !skipped {
		t.Error("a missing tool did not skip the test")
	}
}

func TestWorkingToolAndOutput(t *testing.T) {
	sh := RequireWorkingTool(t, "sh", "-c", "exit 0")
	if got := Output(t, time.Minute, sh, "-c", "echo hi"); got != "hi\n" {
		t.Errorf("Output = %q", got)
	}
	t.Setenv("CI", "")
	var skipped bool
	t.Run("unusable", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		RequireWorkingTool(t, "sh", "-c", "exit 3")
		t.Error("RequireWorkingTool returned for a failing check")
	})
	if !skipped {
		t.Error("a failing check did not skip the test")
	}
}

func TestPackage(t *testing.T) {
	if Package("dig") != "bind9-dnsutils" || Package("swaks") != "swaks" {
		t.Errorf("Package(dig) = %q, Package(swaks) = %q", Package("dig"), Package("swaks"))
	}
}
