package sieve

import (
	"slices"
	"strconv"
	"strings"

	"github.com/maillab/maillab/protocols/mail"
)

// Limits that keep a hostile or mistaken script from hurting the lab. Parse
// refuses scripts beyond the first three; Run stops with an error at the
// others (and the caller keeps the message).
const (
	MaxScriptBytes = 64 << 10  // a script's size
	MaxNesting     = 32        // blocks and tests inside one another
	MaxStringList  = 256       // strings in one [...] list
	MaxActions     = 32        // actions in one run (RFC 5228 section 2.10.4)
	MaxRedirects   = 4         // redirects in one run (RFC 5228 section 2.10.4)
	MaxSteps       = 5_000_000 // comparisons and matcher steps in one run (RFC 5228 section 2.10.7)
	MaxTraceLines  = 500       // lines in Result.Trace; later ones are dropped
)

// Script is a parsed Sieve script, ready to run on many messages. It is
// not changed by Run, so one Script may serve concurrent deliveries.
type Script struct {
	name    string
	require []string
	cmds    []stmt
}

// Name returns the name the script was parsed under.
func (s *Script) Name() string { return s.name }

// Extensions returns the capabilities the script requires, in the order of
// its require commands ("fileinto", "vacation"...).
func (s *Script) Extensions() []string { return slices.Clone(s.require) }

// extensions are the capability strings require accepts, with the document
// that defines each (RFC 5228 section 6.1).
var extensions = map[string]string{
	"fileinto":                   "RFC 5228 section 4.1",
	"envelope":                   "RFC 5228 section 5.4",
	"comparator-i;octet":         "RFC 5228 section 2.7.3",
	"comparator-i;ascii-casemap": "RFC 5228 section 2.7.3",
	"reject":                     "RFC 5429",
	"ereject":                    "RFC 5429",
	"vacation":                   "RFC 5230",
	"subaddress":                 "RFC 5233",
	"mailbox":                    "RFC 5490",
	"copy":                       "RFC 3894",
}

// unsupported names commands and tests of extensions this interpreter does
// not have, so a teacher is told why rather than just "unknown".
var unsupported = map[string]string{
	"set": "variables, RFC 5229", "body": "body, RFC 5173", "date": "date, RFC 5260",
	"currentdate": "date, RFC 5260", "setflag": "imap4flags, RFC 5232",
	"addflag": "imap4flags, RFC 5232", "removeflag": "imap4flags, RFC 5232",
	"hasflag": "imap4flags, RFC 5232", "notify": "enotify, RFC 5435",
	"addheader": "editheader, RFC 5293", "deleteheader": "editheader, RFC 5293",
	"mailboxexists": "mailbox, RFC 5490: only fileinto :create is supported",
	"metadata":      "mboxmetadata, RFC 5490", "include": "include, RFC 6609",
	"duplicate": "duplicate, RFC 7352", "spamtest": "spamtest, RFC 5235",
	"virustest": "spamtest, RFC 5235", "environment": "environment, RFC 5183",
	"string": "variables, RFC 5229", "ihave": "ihave, RFC 5463",
}

// Parse reads a Sieve script (RFC 5228). name is used in error messages
// only, typically the file name. A script with a mistake is refused whole:
// the error is an *Error, "name:line:col: what is wrong", at the first
// mistake. Parse checks everything that can be checked before a message
// arrives: syntax, argument types, require (RFC 5228 section 3.2), tags,
// comparators, header names, redirect addresses.
// maxSteps is the budget Run uses: MaxSteps, lowered by the fuzz test so
// that each of its runs stays quick under coverage instrumentation.
var maxSteps = MaxSteps

func Parse(name string, src []byte) (*Script, error) {
	if len(src) > MaxScriptBytes {
		return nil, errorAt(name, Pos{1, 1}, "script is %d bytes, more than the limit of %d", len(src), MaxScriptBytes)
	}
	p := &parser{lx: newLexer(name, src), name: name, exts: map[string]bool{}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	cmds, err := p.commands(false)
	if err != nil {
		return nil, err
	}
	return &Script{name: name, require: p.required, cmds: cmds}, nil
}

// parser is a recursive-descent parser over the grammar of RFC 5228
// section 8.2 with one token of look-ahead. Each command and test is
// checked as soon as it is read, so errors come in script order.
type parser struct {
	lx        *lexer
	name      string
	tok       token // the current token
	prevEnd   Pos   // just after the previous token: where a missing ';' belongs
	exts      map[string]bool
	required  []string
	seenOther bool // a command other than require has been read
	depth     int
}

func (p *parser) advance() error {
	p.prevEnd = p.tok.end
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errorf(at Pos, format string, args ...any) error {
	return errorAt(p.name, at, format, args...)
}

func (p *parser) nest(at Pos) error {
	p.depth++
	if p.depth > MaxNesting {
		return p.errorf(at, "nested more than %d deep", MaxNesting)
	}
	return nil
}

// commands reads commands up to the end of the script or, in a block, up
// to its '}' (left for the caller).
func (p *parser) commands(inBlock bool) ([]stmt, error) {
	var out []stmt
	for {
		switch p.tok.kind {
		case tokEOF:
			return out, nil
		case tokRBrace:
			if !inBlock {
				return nil, p.errorf(p.tok.pos, "unexpected '}': no block is open")
			}
			return out, nil
		case tokIdent:
			st, err := p.command()
			if err != nil {
				return nil, err
			}
			if st != nil {
				out = append(out, st)
			}
		default:
			return nil, p.errorf(p.tok.pos, "expected a command, found %s", p.tok.describe())
		}
	}
}

// block reads "{" commands "}" (RFC 5228 section 2.8). after names what the
// block follows, for the error when '{' is missing.
func (p *parser) block(after string) ([]stmt, error) {
	if p.tok.kind != tokLBrace {
		return nil, p.errorf(p.tok.pos, "expected '{' after %s, found %s", after, p.tok.describe())
	}
	open := p.tok.pos
	if err := p.nest(open); err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	cmds, err := p.commands(true)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokRBrace {
		return nil, p.errorf(open, "'{' is never closed: '}' missing before the end of the script")
	}
	p.depth--
	return cmds, p.advance()
}

// endCommand expects the ';' that ends a simple command.
func (p *parser) endCommand(name string) error {
	switch p.tok.kind {
	case tokSemicolon:
		return p.advance()
	case tokLBrace:
		return p.errorf(p.tok.pos, "%s takes no block; only if, elsif and else do", name)
	case tokIdent, tokLParen:
		return p.errorf(p.prevEnd, "missing ';' after %s", name)
	}
	return p.errorf(p.prevEnd, "missing ';' after %s, found %s", name, p.tok.describe())
}

// command reads one command (RFC 5228 section 2.9 and 8.2).
func (p *parser) command() (stmt, error) {
	name := strings.ToLower(p.tok.text)
	pos := p.tok.pos
	switch name {
	case "require":
		return nil, p.requireCmd()
	case "if":
		p.seenOther = true
		return p.ifCmd()
	case "elsif", "else":
		return nil, p.errorf(pos, "%s without a preceding if", name)
	}
	cs, ok := commandSpecs[name]
	if !ok {
		if _, isTest := testSpecs[name]; isTest {
			return nil, p.errorf(pos, "%s is a test, not a command: use it after if", name)
		}
		if ext, ok := unsupported[name]; ok {
			return nil, p.errorf(pos, "unknown command %q (extension %s is not supported)", name, ext)
		}
		return nil, p.errorf(pos, "unknown command %q", p.tok.text)
	}
	p.seenOther = true
	if cs.ext != "" && !p.exts[cs.ext] {
		return nil, p.errorf(pos, "%s needs require %q at the top of the script (RFC 5228 section 3.2, %s)",
			name, cs.ext, extensions[cs.ext])
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	args, err := p.arguments()
	if err != nil {
		return nil, err
	}
	if p.tok.kind == tokLParen {
		return nil, p.errorf(p.tok.pos, "%s takes no test", name)
	}
	c, err := p.check(name, pos, &cs.spec, args)
	if err != nil {
		return nil, err
	}
	if err := p.endCommand(name); err != nil {
		return nil, err
	}
	return cs.compile(p, c)
}

// requireCmd reads require <capabilities: string-list> (RFC 5228 section 3.2).
func (p *parser) requireCmd() error {
	pos := p.tok.pos
	if p.seenOther || p.depth > 0 {
		return p.errorf(pos, "require must come before any other command (RFC 5228 section 3.2)")
	}
	if err := p.advance(); err != nil {
		return err
	}
	args, err := p.arguments()
	if err != nil {
		return err
	}
	if len(args) != 1 || args[0].kind != argStrings {
		return p.errorf(pos, "require needs a string or a list of strings, as in require [\"fileinto\", \"vacation\"];")
	}
	for _, ext := range args[0].strs {
		ext = strings.ToLower(ext)
		if _, ok := extensions[ext]; !ok {
			known := make([]string, 0, len(extensions))
			for k := range extensions {
				known = append(known, k)
			}
			slices.Sort(known)
			return p.errorf(args[0].pos, "unsupported extension %q (this interpreter knows %s)",
				ext, strings.Join(known, ", "))
		}
		if !p.exts[ext] {
			p.exts[ext] = true
			p.required = append(p.required, ext)
		}
	}
	return p.endCommand("require")
}

// ifCmd reads if <test> block *(elsif <test> block) [else block]
// (RFC 5228 section 3.1).
func (p *parser) ifCmd() (stmt, error) {
	st := &ifStmt{pos: p.tok.pos}
	kw := "if"
	for {
		branchPos := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind == tokLParen {
			return nil, p.errorf(p.tok.pos, "%s takes one test: combine tests with anyof(...) or allof(...)", kw)
		}
		if p.tok.kind != tokIdent {
			return nil, p.errorf(p.tok.pos, "expected a test after %s, found %s", kw, p.tok.describe())
		}
		t, err := p.test()
		if err != nil {
			return nil, err
		}
		body, err := p.block("the test of " + kw)
		if err != nil {
			return nil, err
		}
		st.branches = append(st.branches, branch{pos: branchPos, cond: t, body: body})
		if p.tok.kind != tokIdent {
			return st, nil
		}
		switch strings.ToLower(p.tok.text) {
		case "elsif":
			kw = "elsif"
			continue
		case "else":
			st.elsePos = p.tok.pos
			if err := p.advance(); err != nil {
				return nil, err
			}
			body, err := p.block("else")
			if err != nil {
				return nil, err
			}
			st.els, st.hasElse = body, true
		}
		return st, nil
	}
}

// test reads one test and, for allof, anyof and not, the tests inside it
// (RFC 5228 section 2.5).
func (p *parser) test() (*testNode, error) {
	name := strings.ToLower(p.tok.text)
	pos := p.tok.pos
	spec, ok := testSpecs[name]
	if !ok {
		if _, isCmd := commandSpecs[name]; isCmd || name == "if" || name == "require" || name == "stop" {
			return nil, p.errorf(pos, "%s is a command, not a test", name)
		}
		if ext, ok := unsupported[name]; ok {
			return nil, p.errorf(pos, "unknown test %q (extension %s is not supported)", name, ext)
		}
		return nil, p.errorf(pos, "unknown test %q", p.tok.text)
	}
	if spec.ext != "" && !p.exts[spec.ext] {
		return nil, p.errorf(pos, "%s needs require %q at the top of the script (RFC 5228 section 3.2, %s)",
			name, spec.ext, extensions[spec.ext])
	}
	if err := p.nest(pos); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	if err := p.advance(); err != nil {
		return nil, err
	}
	args, err := p.arguments()
	if err != nil {
		return nil, err
	}
	c, err := p.check(name, pos, spec, args)
	if err != nil {
		return nil, err
	}
	switch name {
	case "allof", "anyof":
		// RFC 5228 section 5.2 and 5.3: test-list = "(" test *("," test) ")".
		if p.tok.kind != tokLParen {
			return nil, p.errorf(p.tok.pos, "%s needs a list of tests in parentheses, found %s", name, p.tok.describe())
		}
		for {
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.tok.kind != tokIdent {
				return nil, p.errorf(p.tok.pos, "expected a test in the list of %s, found %s", name, p.tok.describe())
			}
			t, err := p.test()
			if err != nil {
				return nil, err
			}
			c.tests = append(c.tests, t)
			if p.tok.kind == tokRParen {
				break
			}
			if p.tok.kind != tokComma {
				return nil, p.errorf(p.tok.pos, "expected ',' or ')' in the list of %s, found %s", name, p.tok.describe())
			}
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	case "not":
		// RFC 5228 section 5.8: not <test1: test>.
		if p.tok.kind != tokIdent {
			return nil, p.errorf(p.tok.pos, "not needs a test, found %s", p.tok.describe())
		}
		t, err := p.test()
		if err != nil {
			return nil, err
		}
		c.tests = []*testNode{t}
	}
	return spec.compile(p, c)
}

// Argument kinds (RFC 5228 section 2.6).
type argKind int

const (
	argNone    argKind = iota
	argTag             // :is
	argNumber          // 100K
	argStrings         // "a" or ["a", "b"]
)

type argument struct {
	kind argKind
	pos  Pos
	tag  string // lower case, without ':'
	num  int64
	raw  string // the number as written
	strs []string
	list bool // written with [ ]
}

func (a argument) describe() string {
	switch a.kind {
	case argTag:
		return "tag :" + a.tag
	case argNumber:
		return "number " + a.raw
	}
	if a.list {
		return "a string list"
	}
	return "string " + quoteShort(a.strs[0])
}

// render writes the argument back as Sieve, for the trace.
func (a argument) render() string {
	switch a.kind {
	case argTag:
		return ":" + a.tag
	case argNumber:
		return a.raw
	}
	if !a.list {
		return quoteShort(a.strs[0])
	}
	parts := make([]string, len(a.strs))
	for i, s := range a.strs {
		parts[i] = quoteShort(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// arguments reads *argument: tags, numbers, strings and string lists.
func (p *parser) arguments() ([]argument, error) {
	var args []argument
	for {
		t := p.tok
		switch t.kind {
		case tokTag:
			args = append(args, argument{kind: argTag, pos: t.pos, tag: strings.ToLower(t.text)})
		case tokNumber:
			args = append(args, argument{kind: argNumber, pos: t.pos, num: t.num, raw: t.raw})
		case tokString:
			args = append(args, argument{kind: argStrings, pos: t.pos, strs: []string{t.text}})
		case tokLBracket:
			a, err := p.stringList()
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			continue // stringList has moved past ']'
		default:
			return args, nil
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
}

// stringList reads "[" string *("," string) "]" (RFC 5228 section 2.4.2.1).
func (p *parser) stringList() (argument, error) {
	a := argument{kind: argStrings, pos: p.tok.pos, list: true}
	for {
		if err := p.advance(); err != nil {
			return a, err
		}
		if p.tok.kind != tokString {
			if p.tok.kind == tokRBracket && len(a.strs) == 0 {
				return a, p.errorf(a.pos, "empty string list: write at least one string between [ and ]")
			}
			return a, p.errorf(p.tok.pos, "expected a string in the list, found %s", p.tok.describe())
		}
		if len(a.strs) == MaxStringList {
			return a, p.errorf(a.pos, "string list longer than %d strings", MaxStringList)
		}
		a.strs = append(a.strs, p.tok.text)
		if err := p.advance(); err != nil {
			return a, err
		}
		switch p.tok.kind {
		case tokComma:
			continue
		case tokRBracket:
			return a, p.advance()
		}
		return a, p.errorf(p.tok.pos, "expected ',' or ']' in the string list, found %s", p.tok.describe())
	}
}

// spec describes the arguments of a command or test (RFC 5228 section 2.6).
type spec struct {
	ext        string             // extension require must name, "" if none
	tags       map[string]tagSpec // allowed tags
	positional []posSpec
	compile    func(p *parser, c *call) (*testNode, error)
}

type tagSpec struct {
	group string  // tags of one group exclude each other: "match", "part"...
	takes argKind // argNone, argNumber or argStrings (what follows the tag)
	what  string  // what follows, for messages: "a comparator name"
	list  bool    // what follows may be a list
	ext   string  // extension this tag needs
}

type posSpec struct {
	what string // "mailbox name", "header names"
	kind argKind
	list bool // may be a string list
}

// call is a command or test after its arguments have been checked.
type call struct {
	name  string
	pos   Pos
	tags  map[string]argument // by group: the tag, with what follows it in strs/num
	tagOf map[string]string   // by group: which tag
	args  []argument          // positional
	all   []argument          // everything as written, for rendering
	tests []*testNode
}

func (c *call) has(tag string) bool {
	for _, t := range c.tagOf {
		if t == tag {
			return true
		}
	}
	return false
}

func (c *call) render() string {
	parts := []string{c.name}
	for _, a := range c.all {
		parts = append(parts, a.render())
	}
	return strings.Join(parts, " ")
}

// check matches arguments against a spec: tags first, each once, then
// positional arguments of the right kinds (RFC 5228 section 2.6.2: tagged
// arguments come before positional ones).
func (p *parser) check(name string, pos Pos, sp *spec, args []argument) (*call, error) {
	c := &call{name: name, pos: pos, tags: map[string]argument{}, tagOf: map[string]string{}, all: args}
	i := 0
	for ; i < len(args) && args[i].kind == argTag; i++ {
		a := args[i]
		ts, ok := sp.tags[a.tag]
		if !ok {
			return nil, p.errorf(a.pos, "%s: unknown tag :%s", name, a.tag)
		}
		if ts.ext != "" && !p.exts[ts.ext] {
			return nil, p.errorf(a.pos, "%s: :%s needs require %q at the top of the script (RFC 5228 section 3.2, %s)",
				name, a.tag, ts.ext, extensions[ts.ext])
		}
		group := ts.group
		if group == "" {
			group = a.tag
		}
		if prev, dup := c.tagOf[group]; dup {
			if prev == a.tag {
				return nil, p.errorf(a.pos, "%s: :%s given twice", name, a.tag)
			}
			return nil, p.errorf(a.pos, "%s: :%s and :%s cannot both be given", name, prev, a.tag)
		}
		if ts.takes != argNone {
			if i+1 >= len(args) || args[i+1].kind != ts.takes || args[i+1].list && !ts.list {
				found := "nothing"
				at := a.pos
				if i+1 < len(args) {
					found, at = args[i+1].describe(), args[i+1].pos
				}
				return nil, p.errorf(at, "%s: :%s must be followed by %s, found %s", name, a.tag, ts.what, found)
			}
			i++
			a.num, a.raw, a.strs, a.list = args[i].num, args[i].raw, args[i].strs, args[i].list
		}
		c.tags[group] = a
		c.tagOf[group] = a.tag
	}
	for _, a := range args[i:] {
		if a.kind == argTag {
			return nil, p.errorf(a.pos, "%s: tag :%s must come before the other arguments (RFC 5228 section 2.6.2)", name, a.tag)
		}
	}
	pos2 := args[i:]
	for j, ps := range sp.positional {
		if j >= len(pos2) {
			return nil, p.errorf(p.prevEnd, "%s: missing %s", name, ps.what)
		}
		a := pos2[j]
		if a.kind != ps.kind || a.list && !ps.list {
			want := "a number"
			if ps.kind == argStrings {
				want = "a string"
				if ps.list {
					want = "a string or a string list"
				}
			}
			return nil, p.errorf(a.pos, "%s: the %s must be %s, found %s", name, ps.what, want, a.describe())
		}
		c.args = append(c.args, a)
	}
	if len(pos2) > len(sp.positional) {
		a := pos2[len(sp.positional)]
		return nil, p.errorf(a.pos, "%s: unexpected %s (%s takes %d positional argument%s)",
			name, a.describe(), name, len(sp.positional), plural(len(sp.positional)))
	}
	return c, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Tags shared by the string tests (RFC 5228 section 2.7).
var (
	comparatorTag = tagSpec{group: "comparator", takes: argStrings, what: "a comparator name such as \"i;octet\""}
	matchTags     = map[string]tagSpec{
		"is":       {group: "match"},
		"contains": {group: "match"},
		"matches":  {group: "match"},
	}
	partTags = map[string]tagSpec{
		"all":       {group: "part"},
		"localpart": {group: "part"},
		"domain":    {group: "part"},
		"user":      {group: "part", ext: "subaddress"},
		"detail":    {group: "part", ext: "subaddress"},
	}
)

func stringTestTags(withParts bool) map[string]tagSpec {
	m := map[string]tagSpec{"comparator": comparatorTag}
	for k, v := range matchTags {
		m[k] = v
	}
	if withParts {
		for k, v := range partTags {
			m[k] = v
		}
	}
	return m
}

var (
	headerNames = posSpec{what: "header names", kind: argStrings, list: true}
	keyList     = posSpec{what: "key list", kind: argStrings, list: true}
)

var testSpecs map[string]*spec
var commandSpecs map[string]*cmdSpec

type cmdSpec struct {
	spec
	compile func(p *parser, c *call) (stmt, error)
}

func init() {
	testSpecs = map[string]*spec{
		"header":   {tags: stringTestTags(false), positional: []posSpec{headerNames, keyList}, compile: compileHeader},
		"address":  {tags: stringTestTags(true), positional: []posSpec{headerNames, keyList}, compile: compileAddress},
		"envelope": {ext: "envelope", tags: stringTestTags(true), positional: []posSpec{{what: "envelope parts", kind: argStrings, list: true}, keyList}, compile: compileEnvelope},
		"exists":   {positional: []posSpec{headerNames}, compile: compileExists},
		"size": {tags: map[string]tagSpec{"over": {group: "size"}, "under": {group: "size"}},
			positional: []posSpec{{what: "size limit", kind: argNumber}}, compile: compileSize},
		"allof": {compile: compileGroup(testAllof)},
		"anyof": {compile: compileGroup(testAnyof)},
		"not":   {compile: compileGroup(testNot)},
		"true":  {compile: compileConst(testTrue)},
		"false": {compile: compileConst(testFalse)},
	}
	copyTag := tagSpec{ext: "copy"}
	commandSpecs = map[string]*cmdSpec{
		"stop":    {compile: compileStop},
		"keep":    {compile: compileSimple(ActionKeep)},
		"discard": {compile: compileSimple(ActionDiscard)},
		"fileinto": {spec: spec{ext: "fileinto",
			tags:       map[string]tagSpec{"copy": copyTag, "create": {ext: "mailbox"}},
			positional: []posSpec{{what: "mailbox name", kind: argStrings}}}, compile: compileFileinto},
		"redirect": {spec: spec{tags: map[string]tagSpec{"copy": copyTag},
			positional: []posSpec{{what: "address", kind: argStrings}}}, compile: compileRedirect},
		"reject":  {spec: spec{ext: "reject", positional: []posSpec{{what: "reason", kind: argStrings}}}, compile: compileReject(ActionReject)},
		"ereject": {spec: spec{ext: "ereject", positional: []posSpec{{what: "reason", kind: argStrings}}}, compile: compileReject(ActionEreject)},
		"vacation": {spec: spec{ext: "vacation", tags: map[string]tagSpec{
			"days":      {takes: argNumber, what: "a number of days"},
			"subject":   {takes: argStrings, what: "a subject string"},
			"from":      {takes: argStrings, what: "an address string"},
			"addresses": {takes: argStrings, list: true, what: "a string list of addresses"},
			"mime":      {},
			"handle":    {takes: argStrings, what: "a handle string"},
		}, positional: []posSpec{{what: "reason", kind: argStrings}}}, compile: compileVacation},
	}
}

// The compilers below turn a checked call into a node of the tree Run
// walks, doing every check that needs the values.

func (p *parser) stringTest(c *call, kind testKind) (*testNode, error) {
	t := &testNode{kind: kind, pos: c.pos, src: c.render(), fold: true, match: matchIs, part: partAll}
	if a, ok := c.tags["comparator"]; ok {
		// RFC 5228 section 2.7.3: i;octet and i;ascii-casemap must be
		// supported; other comparators need their own require.
		switch strings.ToLower(a.strs[0]) {
		case "i;octet":
			t.fold = false
		case "i;ascii-casemap":
		default:
			return nil, p.errorf(a.pos, "%s: comparator %q is not supported (only \"i;octet\" and \"i;ascii-casemap\", RFC 5228 section 2.7.3)", c.name, a.strs[0])
		}
	}
	switch c.tagOf["match"] {
	case "contains":
		t.match = matchContains
	case "matches":
		t.match = matchMatches
	}
	switch c.tagOf["part"] {
	case "localpart":
		t.part = partLocal
	case "domain":
		t.part = partDomain
	case "user":
		t.part = partUser
	case "detail":
		t.part = partDetail
	}
	t.names = c.args[0].strs
	t.keys = c.args[1].strs
	if t.match == matchMatches {
		for _, k := range t.keys {
			t.patterns = append(t.patterns, compilePattern(k, t.fold))
		}
	} else if t.fold {
		t.folded = make([]string, len(t.keys))
		for i, k := range t.keys {
			t.folded[i] = asciiLower(k)
		}
	} else {
		t.folded = t.keys
	}
	return t, nil
}

// checkHeaderNames refuses names that cannot be header fields: RFC 5322
// section 2.2, printable US-ASCII other than ':' (RFC 5228 section 2.4.2.2).
func (p *parser) checkHeaderNames(c *call, a argument) error {
	for _, n := range a.strs {
		ok := n != ""
		for i := 0; i < len(n); i++ {
			if n[i] < 33 || n[i] > 126 || n[i] == ':' {
				ok = false
			}
		}
		if !ok {
			return p.errorf(a.pos, "%s: %s is not a header field name (RFC 5322 section 2.2: printable characters other than ':')", c.name, quoteShort(n))
		}
	}
	return nil
}

func compileHeader(p *parser, c *call) (*testNode, error) {
	if err := p.checkHeaderNames(c, c.args[0]); err != nil {
		return nil, err
	}
	return p.stringTest(c, testHeader)
}

// addressHeaders are the fields the address test accepts. RFC 5228 section
// 5.1: implementations MUST restrict the address test to headers that
// contain addresses.
var addressHeaders = map[string]bool{
	"from": true, "to": true, "cc": true, "bcc": true, "sender": true, "reply-to": true,
	"resent-from": true, "resent-to": true, "resent-cc": true, "resent-bcc": true, "resent-sender": true,
	"resent-reply-to": true, "return-path": true, "delivered-to": true, "errors-to": true,
	"envelope-to": true, "x-original-to": true, "x-envelope-to": true, "mail-followup-to": true,
	"mail-reply-to": true, "disposition-notification-to": true, "original-recipient": true,
}

func compileAddress(p *parser, c *call) (*testNode, error) {
	if err := p.checkHeaderNames(c, c.args[0]); err != nil {
		return nil, err
	}
	for _, n := range c.args[0].strs {
		if !addressHeaders[strings.ToLower(n)] {
			return nil, p.errorf(c.args[0].pos, "address: %q does not hold addresses (RFC 5228 section 5.1); use header to test it", n)
		}
	}
	return p.stringTest(c, testAddress)
}

func compileEnvelope(p *parser, c *call) (*testNode, error) {
	for _, n := range c.args[0].strs {
		switch strings.ToLower(n) {
		case "from", "to":
		default:
			// RFC 5228 section 5.4: an unsupported envelope-part is an error.
			return nil, p.errorf(c.args[0].pos, "envelope: part %q is not supported (only \"from\" and \"to\", RFC 5228 section 5.4)", n)
		}
	}
	return p.stringTest(c, testEnvelope)
}

func compileExists(p *parser, c *call) (*testNode, error) {
	if err := p.checkHeaderNames(c, c.args[0]); err != nil {
		return nil, err
	}
	return &testNode{kind: testExists, pos: c.pos, src: c.render(), names: c.args[0].strs}, nil
}

func compileSize(p *parser, c *call) (*testNode, error) {
	// RFC 5228 section 5.9: size <":over" / ":under"> <limit: number>.
	which, ok := c.tagOf["size"]
	if !ok {
		return nil, p.errorf(c.pos, "size: :over or :under is required, as in size :over 100K")
	}
	return &testNode{kind: testSize, pos: c.pos, src: c.render(), over: which == "over", limit: c.args[0].num}, nil
}

func compileGroup(kind testKind) func(*parser, *call) (*testNode, error) {
	return func(_ *parser, c *call) (*testNode, error) {
		return &testNode{kind: kind, pos: c.pos, src: c.name, sub: c.tests}, nil
	}
}

func compileConst(kind testKind) func(*parser, *call) (*testNode, error) {
	return func(p *parser, c *call) (*testNode, error) {
		return &testNode{kind: kind, pos: c.pos, src: c.name}, nil
	}
}

func compileStop(_ *parser, c *call) (stmt, error) { return &stopStmt{pos: c.pos}, nil }

func compileSimple(kind string) func(*parser, *call) (stmt, error) {
	return func(_ *parser, c *call) (stmt, error) {
		return &actionStmt{act: Action{Kind: kind, Line: c.pos.Line, Col: c.pos.Col}, src: c.render()}, nil
	}
}

// maxMailboxBytes bounds a fileinto mailbox name.
const maxMailboxBytes = 255

func compileFileinto(p *parser, c *call) (stmt, error) {
	a := c.args[0]
	mbox := a.strs[0]
	if mbox == "" {
		return nil, p.errorf(a.pos, "fileinto: the mailbox name is empty")
	}
	if len(mbox) > maxMailboxBytes {
		return nil, p.errorf(a.pos, "fileinto: mailbox name longer than %d bytes", maxMailboxBytes)
	}
	for _, r := range mbox {
		if r < 0x20 || r == 0x7f {
			return nil, p.errorf(a.pos, "fileinto: mailbox name %s holds a control character", quoteShort(mbox))
		}
	}
	return &actionStmt{src: c.render(), act: Action{Kind: ActionFileinto, Mailbox: mbox,
		Create: c.has("create"), Copy: c.has("copy"), Line: c.pos.Line, Col: c.pos.Col}}, nil
}

func compileRedirect(p *parser, c *call) (stmt, error) {
	a := c.args[0]
	// RFC 5228 section 4.2: the address must be syntactically valid; an
	// invalid one is an error when the script is parsed, if it can be.
	addr, err := mail.ParseAddress(a.strs[0])
	if err != nil {
		reason := err.Error()
		if se, ok := err.(*mail.SyntaxError); ok {
			reason = se.Reason
		}
		return nil, p.errorf(a.pos, "redirect: %s is not an address: %s", quoteShort(a.strs[0]), reason)
	}
	return &actionStmt{src: c.render(), act: Action{Kind: ActionRedirect, Address: addr.String(),
		Copy: c.has("copy"), Line: c.pos.Line, Col: c.pos.Col}}, nil
}

func compileReject(kind string) func(*parser, *call) (stmt, error) {
	return func(_ *parser, c *call) (stmt, error) {
		return &actionStmt{src: c.render(), act: Action{Kind: kind, Reason: c.args[0].strs[0],
			Line: c.pos.Line, Col: c.pos.Col}}, nil
	}
}

// Vacation periods (RFC 5230 section 4.1): the default, and the bounds a
// :days value is brought within.
const (
	DefaultVacationDays = 7
	MinVacationDays     = 1
	MaxVacationDays     = 30
)

func compileVacation(p *parser, c *call) (stmt, error) {
	if a, ok := c.tags["mime"]; ok {
		return nil, p.errorf(a.pos, "vacation: :mime is not supported by this interpreter (RFC 5230 section 4.4): write the reason as plain text")
	}
	v := &Vacation{Days: DefaultVacationDays}
	if a, ok := c.tags["days"]; ok {
		// RFC 5230 section 4.1: sites define a minimum (at least 1) and
		// a maximum; values outside are brought within them.
		v.Days = int(min(max(a.num, MinVacationDays), MaxVacationDays))
	}
	if a, ok := c.tags["subject"]; ok {
		v.Subject = a.strs[0]
	}
	if a, ok := c.tags["from"]; ok {
		// RFC 5230 section 4.3: :from must be a valid address; the
		// display-name form "Name <addr>" is allowed.
		addrs := addressList(a.strs[0])
		if len(addrs) != 1 || !strings.Contains(addrs[0], "@") {
			return nil, p.errorf(a.pos, "vacation: :from %s is not an address", quoteShort(a.strs[0]))
		}
		if _, err := mail.ParseAddress(addrs[0]); err != nil {
			return nil, p.errorf(a.pos, "vacation: :from %s is not an address", quoteShort(a.strs[0]))
		}
		v.From = a.strs[0]
	}
	if a, ok := c.tags["addresses"]; ok {
		v.Addresses = slices.Clone(a.strs)
	}
	reason := c.args[0].strs[0]
	if a, ok := c.tags["handle"]; ok {
		v.Handle = a.strs[0]
	} else {
		// RFC 5230 section 4.2: without :handle, replies are tracked per
		// content: a changed reason or subject is a new vacation.
		v.Handle = "auto-" + strconv.FormatUint(fnv64(v.Subject+"\x00"+v.From+"\x00"+reason), 16)
	}
	return &actionStmt{src: c.render(), act: Action{Kind: ActionVacation, Reason: reason, Vacation: v,
		Line: c.pos.Line, Col: c.pos.Col}}, nil
}

// fnv64 is FNV-1a: a stable, dependency-free hash for vacation handles.
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
