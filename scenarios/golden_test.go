package scenarios

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/maillab/maillab/transcripts"
	"github.com/maillab/maillab/transcripts/render"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from this run")

// TestGoldenTranscripts runs each embedded scenario and compares what a
// class would read, without colour, with testdata/<name>.golden.
func TestGoldenTranscripts(t *testing.T) {
	for _, info := range List() {
		t.Run(info.Name, func(t *testing.T) {
			got := transcriptOf(t, info.Name)
			path := filepath.Join("testdata", info.Name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGoldenTranscripts -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s transcript (-want +got):\n%s", info.Name, diff)
			}
		})
	}
}

// TestGoldenTranscriptIsStable runs the default scenario, and the one
// with devices that stay connected and idle, twice in one process: the
// ids, ports and Maildir names that differ must not show.
func TestGoldenTranscriptIsStable(t *testing.T) {
	for _, name := range []string{Default, "pop-vs-imap"} {
		first := transcriptOf(t, name)
		second := transcriptOf(t, name)
		if diff := cmp.Diff(string(first), string(second)); diff != "" {
			t.Errorf("%s: two runs differ (-first +second):\n%s", name, diff)
		}
	}
}

func transcriptOf(t *testing.T, name string) []byte {
	t.Helper()
	sc, err := Load(name)
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t)
	opts.Recorder = transcripts.NewRecorder(transcripts.Options{Now: fixedNow})
	res := runScenario(t, sc, opts)
	if res.Failed != 0 {
		t.Errorf("%d steps failed: %+v", res.Failed, res.Steps)
	}
	var buf bytes.Buffer
	text := render.NewText(&buf, render.Options{Color: false})
	for _, e := range render.Normalize(opts.Recorder.Events()) {
		if err := text.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := text.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
