package lessons

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// mustLoad parses every embedded lesson or fails the test.
func mustLoad(t *testing.T) map[string][]Lesson {
	t.Helper()
	all, err := loadAll()
	if err != nil {
		t.Fatalf("the embedded lessons do not parse:\n%v", err)
	}
	return all
}

func TestFrontMatterParses(t *testing.T) {
	all := mustLoad(t)
	for _, lang := range Languages {
		if len(all[lang]) == 0 {
			t.Errorf("no lessons in %s/", lang)
		}
		for _, l := range all[lang] {
			if l.Lang != lang || l.Title == "" || len(l.Scenarios) == 0 {
				t.Errorf("%s/%s.md: want lang %q, a title and at least one scenario, got %+v", lang, l.ID, lang, l)
			}
			if strings.HasPrefix(l.Text, "---") {
				t.Errorf("%s/%s.md: Text still holds the front matter", lang, l.ID)
			}
		}
	}
}

func TestEveryLessonInEveryLanguage(t *testing.T) {
	all := mustLoad(t)
	ids := func(lang string) []string {
		var out []string
		for _, l := range all[lang] {
			out = append(out, l.ID)
		}
		return out
	}
	for _, lang := range Languages[1:] {
		if diff := cmp.Diff(ids(Languages[0]), ids(lang)); diff != "" {
			t.Errorf("lesson ids differ between %s/ and %s/ (-%s +%s):\n%s", Languages[0], lang, Languages[0], lang, diff)
		}
	}
}

// TestLanguagesAgree compares each lesson with its translation.
func TestLanguagesAgree(t *testing.T) {
	all := mustLoad(t)
	ref := Languages[0]
	for _, l := range all[ref] {
		for _, lang := range Languages[1:] {
			other, err := Get(l.ID, lang)
			if err != nil {
				continue // reported by TestEveryLessonInEveryLanguage
			}
			t.Run(l.ID+"/"+lang, func(t *testing.T) {
				for _, p := range compare(l, other) {
					t.Error(p)
				}
			})
		}
	}
}

// TestCompareCatchesDrift proves that compare notices each kind of drift,
// so that TestLanguagesAgree cannot pass by comparing nothing.
func TestCompareCatchesDrift(t *testing.T) {
	en, err := Get("02-smtp-by-hand", "en")
	if err != nil {
		t.Fatal(err)
	}
	es, err := Get("02-smtp-by-hand", "es")
	if err != nil {
		t.Fatal(err)
	}
	if p := compare(en, es); len(p) != 0 {
		t.Fatalf("the real pair already differs: %v", p)
	}
	drifts := []struct {
		name string
		edit func(l *Lesson)
		want string
	}{
		{"a section removed", func(l *Lesson) {
			l.Text = strings.Replace(l.Text, "\n## Referencias\n", "\nReferencias\n", 1)
		}, "headings"},
		{"an exercise added", func(l *Lesson) {
			l.Text += "\n### Ejercicio 7 — Otro\n"
		}, "headings"},
		{"a scenario dropped", func(l *Lesson) {
			l.Scenarios = l.Scenarios[:1]
		}, "scenarios"},
		{"an RFC changed", func(l *Lesson) {
			l.Text = strings.Replace(l.Text, "(RFC 1870)", "(RFC 1869)", 1)
		}, "RFCs"},
		{"a reply changed in a code block", func(l *Lesson) {
			l.Text = strings.Replace(l.Text, "S: 354 ...", "S: 354 Adelante", 1)
		}, "code lines"},
		{"a command translated in a code block", func(l *Lesson) {
			l.Text = strings.Replace(l.Text, "C: QUIT", "C: SALIR", 1)
		}, "code lines"},
		{"an inline code span changed", func(l *Lesson) {
			l.Text = strings.Replace(l.Text, "`550 5.1.1`", "`550 5.1.2`", 1)
		}, "inline code"},
	}
	for _, d := range drifts {
		t.Run(d.name, func(t *testing.T) {
			drifted := es.clone()
			d.edit(&drifted)
			if drifted.Text == es.Text && slices.Equal(drifted.Scenarios, es.Scenarios) {
				t.Fatal("the edit changed nothing: update the test to the lesson text")
			}
			problems := compare(en, drifted)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, d.want) }) {
				t.Errorf("compare did not report %q; it reported %q", d.want, problems)
			}
		})
	}
}

func TestScenariosExist(t *testing.T) {
	all := mustLoad(t)
	for _, lang := range Languages {
		for _, l := range all[lang] {
			for _, s := range l.Scenarios {
				file := filepath.Join("..", "scenarios", s+".yaml")
				if _, err := os.Stat(file); err != nil {
					t.Errorf("%s/%s.md names scenario %q, but %s: %v", lang, l.ID, s, file, err)
				}
			}
		}
	}
}

func TestListAndGet(t *testing.T) {
	for _, lang := range Languages {
		list := List(lang)
		if !sort.SliceIsSorted(list, func(i, j int) bool { return list[i].ID < list[j].ID }) {
			t.Errorf("List(%q) is not sorted by ID", lang)
		}
		for _, l := range list {
			got, err := Get(l.ID, lang)
			if err != nil {
				t.Errorf("Get(%q, %q): %v", l.ID, lang, err)
				continue
			}
			if diff := cmp.Diff(l, got); diff != "" {
				t.Errorf("Get(%q, %q) differs from List (-list +get):\n%s", l.ID, lang, diff)
			}
		}
	}
	if List("fr") != nil {
		t.Error(`List("fr") is not nil`)
	}
	for _, c := range [][2]string{{"99-nothing", "en"}, {"01-journey", "fr"}, {"", "es"}} {
		if _, err := Get(c[0], c[1]); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q, %q) = %v, want ErrNotFound", c[0], c[1], err)
		}
	}
}

func TestCallersCannotChangeLessons(t *testing.T) {
	l, err := Get("01-journey", "en")
	if err != nil {
		t.Fatal(err)
	}
	l.Scenarios[0] = "changed"
	List("en")[0].Scenarios[0] = "changed"
	again, _ := Get("01-journey", "en")
	if again.Scenarios[0] == "changed" {
		t.Error("changing a returned lesson's Scenarios changed the package's copy")
	}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name, file string
		want       Lesson
	}{
		{"es/01-x.md", "---\nid: 01-x\ntitle: Uno\nscenarios: [a, b]\n---\n\n# Uno\n",
			Lesson{ID: "01-x", Title: "Uno", Lang: "es", Scenarios: []string{"a", "b"}, Text: "# Uno\n"}},
		{"en/02-y.md", "---\r\nid: 02-y\r\ntitle: \"Two: more\"\r\n---\r\nText\r\n",
			Lesson{ID: "02-y", Title: "Two: more", Lang: "en", Text: "Text\n"}},
	}
	for _, tt := range tests {
		got, err := parse(tt.name, []byte(tt.file))
		if err != nil {
			t.Errorf("parse(%q): %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parse(%q) (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		file, want string
	}{
		{"# No front matter\n", "must start with"},
		{"---\nid: 01-x\ntitle: T\n", "no closing line"},
		{"---\nid: 01-x\ntitle: T\nlang: es\n---\n", "field lang not found"},
		{"---\ntitle: T\n---\n", "id is missing"},
		{"---\nid: 02-other\ntitle: T\n---\n", "differs from the file name"},
		{"---\nid: 01-x\n---\n", "title is missing"},
		{"---\nid: 01-x\ntitle: T\nscenarios: [../etc]\n---\n", "not a scenario name"},
		{"---\nid: [01-x\n---\n", "front matter"},
	}
	for _, tt := range tests {
		_, err := parse("en/01-x.md", []byte(tt.file))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parse(%q) = %v, want an error containing %q", tt.file, err, tt.want)
		}
	}
}

func TestLoadReportsEveryBrokenFile(t *testing.T) {
	fsys := fstest.MapFS{
		"en/01-a.md": {Data: []byte("no front matter")},
		"es/01-a.md": {Data: []byte("---\nid: 01-b\ntitle: T\n---\n")},
	}
	_, err := load(fsys)
	if err == nil || !strings.Contains(err.Error(), "en/01-a.md") || !strings.Contains(err.Error(), "es/01-a.md") {
		t.Errorf("load = %v, want errors naming both files", err)
	}
}

// compare lists how two translations of a lesson differ in what must not
// differ: sections, scenarios, RFCs cited, code blocks and inline code.
func compare(a, b Lesson) []string {
	var problems []string
	check := func(what string, x, y any) {
		if diff := cmp.Diff(x, y); diff != "" {
			problems = append(problems, fmt.Sprintf("%s: %s differ (-%s +%s):\n%s", a.ID, what, a.Lang, b.Lang, diff))
		}
	}
	pa, pb := scan(a.Text), scan(b.Text)
	check("headings (their levels, in order)", pa.headings, pb.headings)
	check("scenarios", a.Scenarios, b.Scenarios)
	check("RFCs cited", rfcs(a.Text), rfcs(b.Text))
	check("code lines (protocol lines and commands in code blocks)", pa.code, pb.code)
	check("inline code spans (the set)", pa.inline, pb.inline)
	return problems
}

// scanned is what must be equal between two translations.
type scanned struct {
	headings []int    // heading levels, in order: [1 2 2 3 ...]
	code     []string // lines in fenced code blocks, trimmed, without shell comments
	inline   []string // the sorted set of `inline code` spans outside code blocks
}

var inlineCode = regexp.MustCompile("`([^`]+)`")

func scan(text string) scanned {
	var s scanned
	inFence := false
	seen := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			inFence = !inFence
			s.code = append(s.code, "```")
			continue
		}
		if inFence {
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue // blank lines and comment lines may differ
			}
			if strings.HasPrefix(trimmed, "$ ") {
				if i := strings.Index(trimmed, "  # "); i >= 0 {
					trimmed = strings.TrimSpace(trimmed[:i]) // a translated comment
				}
			}
			s.code = append(s.code, trimmed)
			continue
		}
		if level := len(line) - len(strings.TrimLeft(line, "#")); level > 0 && strings.HasPrefix(line[level:], " ") {
			s.headings = append(s.headings, level)
		}
		for _, m := range inlineCode.FindAllStringSubmatch(line, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				s.inline = append(s.inline, m[1])
			}
		}
	}
	sort.Strings(s.inline)
	return s
}

var rfcNumber = regexp.MustCompile(`\bRFC ?(\d{3,5})\b`)

// rfcs returns the sorted set of RFC numbers a text cites.
func rfcs(text string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range rfcNumber.FindAllStringSubmatch(text, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}
