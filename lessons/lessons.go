// Package lessons holds maillab's lesson texts, in English and Spanish, and
// names the scenarios each lesson is played with.
//
// A lesson is a Markdown file, en/<id>.md and es/<id>.md, with the same
// content in both languages. It starts with a small front matter:
//
//	---
//	id: 01-journey
//	title: Anatomy of an address, a message and its journey
//	scenarios: [first-message]
//	---
//
// The id is the file name without ".md"; the language is the directory.
// The tests keep both languages in step: same lessons, same sections, same
// scenarios, same RFCs cited, same protocol lines in code blocks.
//
// # Standards
//
// The lessons teach RFC 5321 (SMTP), RFC 5322 (message format), RFC 5598
// (roles), RFC 2033 (LMTP), RFC 3463 (enhanced status codes), RFC 2920
// (PIPELINING), RFC 1870 (SIZE) and RFC 6152 (8BITMIME). Every fact in them
// comes from the project's FACTS.md or from the RFC text.
//
// # Security
//
// The texts are embedded at build time; the package reads no files and opens
// no sockets.
//
// # Limits
//
// The front matter must be the first lines of the file, between two lines
// that hold only "---", and may only use the keys id, title and scenarios.
package lessons

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

//go:embed en/*.md es/*.md
var files embed.FS

// Languages are the languages every lesson is written in.
var Languages = []string{"en", "es"}

// ErrNotFound is returned by Get for an unknown lesson or language.
var ErrNotFound = errors.New("lessons: no such lesson")

// Lesson is one lesson in one language.
type Lesson struct {
	ID        string   // file name without ".md", e.g. "01-journey"
	Title     string   // from the front matter, in the lesson's language
	Lang      string   // "en" or "es": the directory
	Scenarios []string // the scenarios the lesson uses, e.g. ["first-message"]
	Text      string   // the Markdown after the front matter
}

// frontMatter is the YAML between the two "---" lines.
type frontMatter struct {
	ID        string   `yaml:"id"`
	Title     string   `yaml:"title"`
	Scenarios []string `yaml:"scenarios"`
}

// loadAll parses every embedded lesson once: lesson lists by language,
// sorted by ID.
var loadAll = sync.OnceValues(func() (map[string][]Lesson, error) {
	return load(files)
})

func load(fsys fs.FS) (map[string][]Lesson, error) {
	byLang := make(map[string][]Lesson)
	var errs []error
	for _, lang := range Languages {
		names, err := fs.Glob(fsys, lang+"/*.md")
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			data, err := fs.ReadFile(fsys, name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			l, err := parse(name, data)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			byLang[lang] = append(byLang[lang], l)
		}
		sort.Slice(byLang[lang], func(i, j int) bool { return byLang[lang][i].ID < byLang[lang][j].ID })
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return byLang, nil
}

// parse reads one lesson file called name ("es/01-journey.md").
func parse(name string, data []byte) (Lesson, error) {
	lang := path.Dir(name)
	id := strings.TrimSuffix(path.Base(name), ".md")
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	rest, ok := strings.CutPrefix(text, "---\n")
	if !ok {
		return Lesson{}, fmt.Errorf("lessons: %s:1: the file must start with a front matter line \"---\"", name)
	}
	head, body, ok := strings.Cut(rest, "\n---\n")
	if !ok {
		return Lesson{}, fmt.Errorf("lessons: %s: the front matter has no closing line \"---\"", name)
	}
	var fm frontMatter
	dec := yaml.NewDecoder(bytes.NewReader([]byte(head)))
	dec.KnownFields(true)
	if err := dec.Decode(&fm); err != nil {
		return Lesson{}, fmt.Errorf("lessons: %s: front matter: %v", name, err)
	}
	switch {
	case fm.ID == "":
		return Lesson{}, fmt.Errorf("lessons: %s: front matter: id is missing", name)
	case fm.ID != id:
		return Lesson{}, fmt.Errorf("lessons: %s: front matter: id %q differs from the file name %q", name, fm.ID, id)
	case strings.TrimSpace(fm.Title) == "":
		return Lesson{}, fmt.Errorf("lessons: %s: front matter: title is missing", name)
	}
	for _, s := range fm.Scenarios {
		if s == "" || strings.ContainsAny(s, `/\ `) {
			return Lesson{}, fmt.Errorf("lessons: %s: front matter: scenario %q is not a scenario name", name, s)
		}
	}
	return Lesson{
		ID:        fm.ID,
		Title:     strings.TrimSpace(fm.Title),
		Lang:      lang,
		Scenarios: fm.Scenarios,
		Text:      strings.TrimLeft(body, "\n"),
	}, nil
}

// List returns the lessons in language lang ("en" or "es"), ordered by ID.
// It returns nil for an unknown language.
func List(lang string) []Lesson {
	all, err := loadAll()
	if err != nil {
		return nil
	}
	out := make([]Lesson, 0, len(all[lang]))
	for _, l := range all[lang] {
		out = append(out, l.clone())
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Get returns lesson id in language lang. The error wraps ErrNotFound when
// there is no such lesson.
func Get(id, lang string) (Lesson, error) {
	all, err := loadAll()
	if err != nil {
		return Lesson{}, err
	}
	for _, l := range all[lang] {
		if l.ID == id {
			return l.clone(), nil
		}
	}
	return Lesson{}, fmt.Errorf("%w: %q in language %q", ErrNotFound, id, lang)
}

// clone copies the Scenarios slice, so callers cannot change the shared one.
func (l Lesson) clone() Lesson {
	l.Scenarios = append([]string(nil), l.Scenarios...)
	return l
}
