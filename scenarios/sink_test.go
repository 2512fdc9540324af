package scenarios

import (
	"strings"
	"testing"

	"github.com/maillab/maillab/transcripts"
)

func TestSinkKindAcceptsAndStoresNothing(t *testing.T) {
	sc, err := Parse("sink.yaml", []byte(`name: sink
description: a sink takes anything
users:
  - {address: alice@example.test, password: alice}
agents:
  - {name: sink.example.test, kind: sink, domains: [example.test]}
  - {name: alice-laptop, kind: mua, user: alice@example.test}
steps:
  - send: {as: alice-laptop, via: sink.example.test, to: nobody@nowhere.test, subject: hi, body: bye}
`))
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t)
	opts.Recorder = transcripts.NewRecorder(transcripts.Options{})
	res := runScenario(t, sc, opts)
	if res.Failed != 0 {
		t.Fatalf("%d steps failed: %+v", res.Failed, res.Steps)
	}
	found := false
	for _, e := range opts.Recorder.Events() {
		if e.Kind == transcripts.KindLine && strings.HasPrefix(e.Line, "250 2.0.0 Ok: discarded") {
			found = true
		}
	}
	if !found {
		t.Fatal("the sink's transcript lacks its 250 ... discarded reply")
	}
}

func TestSinkKindRefusesMTAKeys(t *testing.T) {
	_, err := Parse("sink.yaml", []byte(`name: sink
description: x
agents:
  - {name: sink.example.test, kind: sink, deliver_to: mda.example.test}
steps: []
`))
	if err == nil || !strings.Contains(err.Error(), "sink.yaml:4:") || !strings.Contains(err.Error(), "an agent of kind sink has no deliver_to") {
		t.Fatalf("err = %v", err)
	}
}
