package main

import (
	"fmt"
	"io"
	"sync"

	"github.com/spf13/cobra"

	"github.com/maillab/maillab/transcripts"
	"github.com/maillab/maillab/transcripts/render"
)

// transcriptOptions are the flags of every command that shows a transcript.
type transcriptOptions struct {
	explain     bool
	lang        string
	json        bool
	showBody    bool
	showSecrets bool
	wire        bool
}

func (t *transcriptOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&t.explain, "explain", false, "explain every command and reply under its line")
	f.StringVar(&t.lang, "lang", "en", "language of the explanations: en or es")
	f.BoolVar(&t.json, "json", false, "print the transcript as JSON Lines, one event per line")
	f.BoolVar(&t.showBody, "show-body", false, "print every line of message bodies instead of the first few")
	t.addViewFlags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("lang", cobra.FixedCompletions([]string{"en", "es"}, cobra.ShellCompDirectiveNoFileComp))
}

// addViewFlags adds --show-secrets and --wire, the flags that choose what
// a transcript reveals; addFlags includes them, and commands that register
// the other flags themselves (up) call it.
func (t *transcriptOptions) addViewFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&t.showSecrets, "show-secrets", false, "print passwords and AUTH data as they crossed instead of ***")
	f.BoolVar(&t.wire, "wire", false, "the wire view: what a sniffer on the link sees (lines sent in the clear, then only the sizes of encrypted TLS records); ignored with --json, which keeps every event")
}

func (t *transcriptOptions) validate() error {
	switch t.lang {
	case "en", "es":
		return nil
	}
	return withCode(exitUsage, fmt.Errorf("--lang %q: choose en or es", t.lang))
}

// attach subscribes a renderer for w to rec and returns a function that
// detaches it and flushes what the renderer held back (the summary of a
// message body cut short). Calling it more than once is harmless. Rendering
// errors (a closed pipe) stop the rendering only.
func (t *transcriptOptions) attach(rec *transcripts.Recorder, w io.Writer, color bool) func() {
	var r render.Renderer
	if t.json {
		j := render.NewJSON(w)
		j.ShowSecrets = t.showSecrets
		r = j
	} else {
		r = render.NewText(w, render.Options{Color: color, Explain: t.explain, Lang: t.lang, ShowBulk: t.showBody,
			ShowSecrets: t.showSecrets, Wire: t.wire})
	}
	cancel := rec.Subscribe(func(e transcripts.Event) { _ = r.Write(e) })
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			_ = r.Flush()
		})
	}
}
