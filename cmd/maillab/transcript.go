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
	explain  bool
	lang     string
	json     bool
	showBody bool
}

func (t *transcriptOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&t.explain, "explain", false, "explain every command and reply under its line")
	f.StringVar(&t.lang, "lang", "en", "language of the explanations: en or es")
	f.BoolVar(&t.json, "json", false, "print the transcript as JSON Lines, one event per line")
	f.BoolVar(&t.showBody, "show-body", false, "print every line of message bodies instead of the first few")
	_ = cmd.RegisterFlagCompletionFunc("lang", cobra.FixedCompletions([]string{"en", "es"}, cobra.ShellCompDirectiveNoFileComp))
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
		r = render.NewJSON(w)
	} else {
		r = render.NewText(w, render.Options{Color: color, Explain: t.explain, Lang: t.lang, ShowBulk: t.showBody})
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
