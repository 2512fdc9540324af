package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// MaxFileBytes bounds a scenario file; hand-written scenarios are a few KiB.
const MaxFileBytes = 1 << 20

// Parse decodes and validates a scenario. filename only labels positions.
// Every problem is reported, as an ErrorList sorted by position.
func Parse(filename string, data []byte) (*Scenario, error) {
	d := &decoder{file: filename, data: data}
	if len(data) > MaxFileBytes {
		d.errs = append(d.errs, &Error{Pos: Pos{File: filename}, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileBytes)})
		return nil, d.errs
	}
	root, err := d.document(data)
	if err != nil {
		return nil, err
	}
	sc := &Scenario{File: filename}
	d.scenario(root, sc)
	d.validate(sc)
	if len(d.errs) > 0 {
		d.errs.sort()
		return nil, d.errs
	}
	return sc, nil
}

type decoder struct {
	file string
	data []byte // the file, for positions inside block scalars (Sieve scripts)
	errs ErrorList
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document returns the top node of the single YAML document in data.
func (d *decoder) document(data []byte) (n *yaml.Node, err error) {
	// The YAML library reports some malformed input by panicking; a
	// scenario file is user input, so turn that into an error too.
	defer func() {
		if r := recover(); r != nil {
			n, err = nil, ErrorList{{Pos: Pos{File: d.file}, Msg: fmt.Sprintf("invalid YAML: %v", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrorList{{Pos: Pos{File: d.file}, Msg: "empty scenario file"}}
		}
		return nil, ErrorList{d.yamlError(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, ErrorList{{Pos: d.pos(&extra), Msg: "a scenario file holds one YAML document; remove the second"}}
	} else if !errors.Is(err, io.EOF) {
		return nil, ErrorList{d.yamlError(err)}
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	return &doc, nil
}

func (d *decoder) yamlError(err error) *Error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{Pos: Pos{File: d.file, Line: line}, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{Pos: Pos{File: d.file}, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

func (d *decoder) pos(n *yaml.Node) Pos {
	return Pos{File: d.file, Line: n.Line, Col: n.Column}
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errorAt(d.pos(n), format, args...)
}

func (d *decoder) errorAt(p Pos, format string, args ...any) {
	d.errs = append(d.errs, &Error{Pos: p, Msg: printable(fmt.Sprintf(format, args...))})
}

// printable escapes control characters, so that an error message is one
// line and cannot drive a terminal.
func printable(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// resolve follows aliases (bounded, so that a cycle cannot loop).
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return "a value"
	}
	return "something else"
}

// field is a key a mapping accepts, with what to do with its value.
type field struct {
	key string
	fn  func(v *yaml.Node)
}

// mapping decodes n, a mapping described as what ("agent", "send step"),
// calling each field's fn with its value. Unknown and repeated keys are
// errors. It returns the keys seen with their value positions, and false
// when n is not a mapping.
func (d *decoder) mapping(n *yaml.Node, what string, fields []field) (posMap, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n != nil {
			d.errorf(n, "%s: expected a mapping (key: value), found %s", what, kindName(n))
		}
		return nil, false
	}
	seen := posMap{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			d.errorf(n.Content[i], "%s: keys must be plain words", what)
			continue
		}
		var f *field
		for j := range fields {
			if fields[j].key == k.Value {
				f = &fields[j]
				break
			}
		}
		if f == nil {
			d.errorf(k, "unknown key %q in %s (known: %s)", k.Value, what, keyList(fields))
			continue
		}
		if p, dup := seen[k.Value]; dup {
			d.errorf(k, "%s: key %q repeated (first at line %d)", what, k.Value, p.Line)
			continue
		}
		if rv := resolve(v); rv != nil {
			seen[k.Value] = d.pos(rv)
		}
		f.fn(v)
	}
	return seen, true
}

func keyList(fields []field) string {
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// str decodes a scalar as text.
func (d *decoder) str(n *yaml.Node, what string, dst *string) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || isNull(n) {
		if n != nil {
			d.errorf(n, "%s: expected text, found %s", what, kindName(n))
		}
		return
	}
	*dst = n.Value
}

// strs decodes a list of scalars; a single scalar is a list of one.
func (d *decoder) strs(n *yaml.Node, what string, dst *[]string) {
	n = resolve(n)
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		*dst = []string{n.Value}
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s: expected a list, found %s", what, kindName(n))
		return
	}
	for _, item := range n.Content {
		var s string
		d.str(item, what, &s)
		*dst = append(*dst, s)
	}
}

// integer decodes a non-negative whole number.
func (d *decoder) integer(n *yaml.Node, what string, dst *int) {
	n = resolve(n)
	if n == nil {
		return
	}
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < 0 || v > 1_000_000 {
		d.errorf(n, "%s: expected a whole number from 0 to 1000000, found %s", what, shown(n))
		return
	}
	*dst = v
}

func (d *decoder) duration(n *yaml.Node, what string, dst *time.Duration) {
	n = resolve(n)
	if n == nil {
		return
	}
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v <= 0 || v > time.Hour {
		d.errorf(n, "%s: expected a duration such as 5s or 500ms (at most 1h), found %s", what, shown(n))
		return
	}
	*dst = v
}

func (d *decoder) size(n *yaml.Node, what string, dst *int64) {
	n = resolve(n)
	if n == nil {
		return
	}
	v, err := ParseSize(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		d.errorf(n, "%s: expected a size such as 10MiB, 64KiB, 100kB or 2048, found %s", what, shown(n))
		return
	}
	*dst = v
}

func (d *decoder) reply(n *yaml.Node, what string) *Reply {
	n = resolve(n)
	if n == nil {
		return nil
	}
	r, err := ParseReply(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		d.errorf(n, "%s: expected a reply code such as 550 or \"550 5.7.1\", found %s", what, shown(n))
		return nil
	}
	r.Pos = d.pos(n)
	return &r
}

// shown quotes what was found, for an error message.
func shown(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return strconv.Quote(v)
	}
	return kindName(n)
}

var sizeUnits = map[string]int64{
	"": 1, "B": 1,
	"kB": 1000, "KB": 1000, "MB": 1000 * 1000, "GB": 1000 * 1000 * 1000,
	"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
}

var sizeRE = regexp.MustCompile(`^([0-9]{1,12})\s*([A-Za-z]*)$`)

// MaxSize is the largest size a scenario may give (1 GiB).
const MaxSize = 1 << 30

// ParseSize reads a byte count with an optional unit: 2048, 64KiB, 10MiB,
// 100kB, 1MB (B, kB/KB, MB, GB, KiB, MiB, GiB). The result is at most MaxSize.
func ParseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("scenarios: size %q: want a number and an optional unit", s)
	}
	unit, ok := sizeUnits[m[2]]
	if !ok {
		return 0, fmt.Errorf("scenarios: size %q: unknown unit %q (B, kB, MB, GB, KiB, MiB, GiB)", s, m[2])
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > MaxSize/unit {
		return 0, fmt.Errorf("scenarios: size %q: larger than 1GiB", s)
	}
	return n * unit, nil
}

var replyRE = regexp.MustCompile(`^([2-5][0-9][0-9])(?:\s+([245])\.([0-9]{1,3})\.([0-9]{1,3}))?$`)

// ParseReply reads an expected reply: "250", "550 5.1.1" (a three-digit
// code from 200 to 599, then optionally an RFC 3463 class.subject.detail
// whose class matches the code's first digit).
func ParseReply(s string) (Reply, error) {
	m := replyRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Reply{}, fmt.Errorf("scenarios: reply %q: want a three-digit code and an optional x.y.z", s)
	}
	code, _ := strconv.Atoi(m[1])
	r := Reply{Code: code}
	if m[2] != "" {
		if m[2][0] != m[1][0] {
			return Reply{}, fmt.Errorf("scenarios: reply %q: enhanced class %s does not match code %s", s, m[2], m[1])
		}
		r.Enhanced = m[2] + "." + m[3] + "." + m[4]
	}
	return r, nil
}
