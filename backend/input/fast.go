package input

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// The YAML that operators and tools write is mostly of a few shapes:
// block mappings and sequences, one-line flow collections, plain and
// quoted one-line scalars, comments. fastParser reads a document of that
// shape in a single pass over its lines, into the node tree yaml.v3 would
// build for it (comments aside: no reader of routedeck's keeps them),
// at a fraction of yaml.v3's cost, with nodes allocated in blocks and
// values cut from one copy of the input. Anything else in a document
// (anchors, tags, block and multi-line scalars, a value left empty,
// tabs, a syntax error...) gives the document to yaml.v3 whole, so what
// yaml.v3 makes of it, or says against it, is what the caller gets.

// fallback is the panic that hands a document to yaml.v3.
type fallback struct{}

type fastParser struct {
	src  string
	pos  int // the next byte to read
	end  int // the end of the document
	line int // the line at pos, counted from the start of src, from 1
	// lineStart is the offset of the line at pos.
	lineStart int
	// ind is the indentation of the line at pos when pos is at the start
	// of a line with content, -1 at the end of the document.
	ind   int
	ascii bool // the document has no byte past 0x7f: columns are offsets
	// depth is the nesting of the collection being read: past MaxDepth
	// the document is yaml.v3's, and the limit's to refuse.
	depth int

	nodes []yaml.Node  // the free part of the current block of nodes
	ptrs  []*yaml.Node // the free part of the current block of content
	kids  []*yaml.Node // children being gathered, as a stack
	tags  map[string]string
}

// fastStream parses the documents of data as parseStream does, reading
// each through the fast parser when it can and through yaml.v3 when it
// cannot.
func fastStream(data []byte, lineOffset int) ([]*yaml.Node, error) {
	src := string(data)
	if src == "" || src[0] == '%' || strings.HasPrefix(src, "\ufeff") ||
		strings.Contains(src, "\n%") || hasMarker(src, "...") {
		// Directives apply across documents, and an explicit end of
		// document leaves the next one without a marker to split at.
		return parseStream(data, lineOffset)
	}
	p := &fastParser{src: src, tags: map[string]string{}}
	var docs []*yaml.Node
	start, line := 0, 1
	for start < len(p.src) {
		end := nextMarker(p.src, start)
		doc, ok := p.document(start, end, line)
		if !ok {
			more, err := parseStream(data[start:end], lineOffset+line-1)
			if err != nil {
				// A syntax error is yaml.v3's to word and place, and to
				// say which documents before it were read: from a parse
				// in one piece, as the stream is parsed without this.
				return parseStream(data, lineOffset)
			}
			docs = append(docs, more...)
		} else if doc != nil {
			if lineOffset > 0 {
				shiftNode(doc, lineOffset)
			}
			docs = append(docs, doc)
		}
		line += strings.Count(p.src[start:end], "\n")
		start = end
	}
	return docs, nil
}

// nextMarker is the offset of the next line after from that starts a
// document ("---" then a blank or the end), or the end of src.
func nextMarker(src string, from int) int {
	i := from
	for {
		j := strings.Index(src[i:], "\n---")
		if j < 0 {
			return len(src)
		}
		k := i + j + 1
		if k+3 == len(src) || src[k+3] == ' ' || src[k+3] == '\n' || src[k+3] == '\r' || src[k+3] == '\t' {
			return k
		}
		i = k
	}
}

// hasMarker reports whether a line of data starts with marker followed by
// a blank or the end.
func hasMarker(s, marker string) bool {
	for i := 0; ; {
		var k int
		if i == 0 && strings.HasPrefix(s, marker) {
			k = 0
		} else {
			j := strings.Index(s[i:], "\n"+marker)
			if j < 0 {
				return false
			}
			k = i + j + 1
		}
		e := k + len(marker)
		if e == len(s) || s[e] == ' ' || s[e] == '\n' || s[e] == '\r' || s[e] == '\t' {
			return true
		}
		i = k + 1
	}
}

// document parses src[start:end], whose first line is line. It returns
// nil and true for a document with no content and no marker (which
// yaml.v3 does not count as a document), and false for one it leaves to
// yaml.v3.
func (p *fastParser) document(start, end, line int) (doc *yaml.Node, ok bool) {
	seg := p.src[start:end]
	p.ascii = true
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c >= utf8.RuneSelf {
			p.ascii = false
		} else if c < ' ' && c != '\n' || c == 0x7f {
			return nil, false // tabs, carriage returns, control characters
		}
	}
	if !p.ascii && !printable(seg) {
		return nil, false
	}
	defer func() {
		if r := recover(); r != nil {
			if _, is := r.(fallback); !is {
				panic(r)
			}
			doc, ok = nil, false
		}
		p.kids = p.kids[:0]
	}()
	p.pos, p.end, p.line, p.lineStart, p.depth = start, end, line, start, 0
	doc = p.node()
	doc.Kind = yaml.DocumentNode
	explicit := strings.HasPrefix(seg, "---")
	if explicit {
		doc.Line, doc.Column = line, 1
		p.pos += 3
		p.restOfLine()
	}
	p.skipBlank()
	if p.ind < 0 {
		if explicit {
			return nil, false // an empty document: a null, with its place
		}
		return nil, true
	}
	if !explicit {
		doc.Line, doc.Column = p.line, p.ind+1
	}
	root := p.block(p.ind)
	if p.ind >= 0 {
		p.fail() // content after the root: an error, or more than this reads
	}
	doc.Content = p.content(root)
	return doc, true
}

// printable reports whether the non-ASCII text s is valid UTF-8 of
// characters YAML allows, none of them a line break of YAML 1.1 or a byte
// order mark.
func printable(s string) bool {
	for _, r := range s {
		switch {
		case r == utf8.RuneError, r == 0x85, r == 0x2028, r == 0x2029, r == 0xfeff:
			return false
		case r < 0x80, r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		default:
			return false
		}
	}
	return true
}

func (p *fastParser) fail() { panic(fallback{}) }

func (p *fastParser) enter() {
	if p.depth++; p.depth > MaxDepth {
		p.fail()
	}
}

// node returns a new node from the current block.
func (p *fastParser) node() *yaml.Node {
	if len(p.nodes) == 0 {
		p.nodes = make([]yaml.Node, 512)
	}
	n := &p.nodes[0]
	p.nodes = p.nodes[1:]
	return n
}

// content returns the children ns as a Content slice from the current
// block, its capacity its length so an append by a reader copies.
func (p *fastParser) content(ns ...*yaml.Node) []*yaml.Node {
	if len(ns) == 0 {
		return nil
	}
	if len(ns) > len(p.ptrs) {
		p.ptrs = make([]*yaml.Node, max(2048, len(ns)))
	}
	c := p.ptrs[:len(ns):len(ns)]
	copy(c, ns)
	p.ptrs = p.ptrs[len(ns):]
	return c
}

// column is the 1-based column of offset i on the current line, in
// characters as yaml.v3 counts them.
func (p *fastParser) column(i int) int {
	if p.ascii {
		return i - p.lineStart + 1
	}
	return utf8.RuneCountInString(p.src[p.lineStart:i]) + 1
}

// skipBlank moves from the start of a line past blank and comment lines
// to the next line with content, setting ind; at the end of the document
// ind is -1.
func (p *fastParser) skipBlank() {
	for p.pos < p.end {
		i := p.pos
		for i < p.end && p.src[i] == ' ' {
			i++
		}
		if i < p.end && p.src[i] != '\n' && p.src[i] != '#' {
			p.ind = i - p.pos
			return
		}
		p.pos = i
		p.restOfLine()
	}
	p.ind = -1
}

// restOfLine moves past the line break ending the current line, which
// from pos may hold only blanks and a comment.
func (p *fastParser) restOfLine() {
	i := p.pos
	for i < p.end && p.src[i] == ' ' {
		i++
	}
	if i < p.end && p.src[i] == '#' {
		if i > p.lineStart && p.src[i-1] != ' ' {
			p.fail() // a comment needs a blank before it
		}
		for i < p.end && p.src[i] != '\n' {
			i++
		}
	}
	switch {
	case i == p.end:
		p.pos = i
	case p.src[i] == '\n':
		p.pos = i + 1
		p.line++
		p.lineStart = p.pos
	default:
		p.fail()
	}
}

// endOfLine is restOfLine for what ends a value: then the next line with
// content.
func (p *fastParser) endOfLine() {
	p.restOfLine()
	p.skipBlank()
}

// isDash reports whether a block sequence entry starts at i.
func (p *fastParser) isDash(i int) bool {
	return p.src[i] == '-' && (i+1 == p.end || p.src[i+1] == ' ' || p.src[i+1] == '\n')
}

// block parses the block node whose first line starts at pos with
// indentation ind.
func (p *fastParser) block(ind int) *yaml.Node {
	p.pos += ind
	if p.isDash(p.pos) {
		return p.sequence()
	}
	return p.mapping()
}

// sequence parses a block sequence whose first "-" is at pos.
func (p *fastParser) sequence() *yaml.Node {
	p.enter()
	defer func() { p.depth-- }()
	n := p.node()
	n.Kind, n.Tag, n.Line = yaml.SequenceNode, "!!seq", p.line
	n.Column = p.column(p.pos)
	col := p.pos - p.lineStart
	base := len(p.kids)
	for {
		p.pos++ // the dash
		for p.pos < p.end && p.src[p.pos] == ' ' {
			p.pos++
		}
		var item *yaml.Node
		switch {
		case p.pos == p.end || p.src[p.pos] == '\n' || p.src[p.pos] == '#':
			p.endOfLine()
			if p.ind <= col {
				p.fail() // an empty entry: a null, at a place yaml.v3 knows
			}
			item = p.block(p.ind)
		case p.isDash(p.pos):
			item = p.sequence()
		case p.isKey():
			item = p.mapping()
		default:
			item = p.inline()
			p.endOfLine()
		}
		p.kids = append(p.kids, item)
		switch {
		case p.ind == col && p.isDash(p.pos+col):
			p.pos += col
			continue
		case p.ind > col:
			p.fail() // more of the entry: a multi-line scalar, or an error
		}
		break
	}
	n.Content = p.content(p.kids[base:]...)
	p.kids = p.kids[:base]
	return n
}

// mapping parses a block mapping whose first key is at pos.
func (p *fastParser) mapping() *yaml.Node {
	p.enter()
	defer func() { p.depth-- }()
	n := p.node()
	n.Kind, n.Tag, n.Line = yaml.MappingNode, "!!map", p.line
	n.Column = p.column(p.pos)
	col := p.pos - p.lineStart
	base := len(p.kids)
	for {
		if p.isDash(p.pos) || !p.isKey() {
			p.fail()
		}
		key := p.key()
		for p.pos < p.end && p.src[p.pos] == ' ' {
			p.pos++
		}
		var value *yaml.Node
		if p.pos == p.end || p.src[p.pos] == '\n' || p.src[p.pos] == '#' {
			p.endOfLine()
			switch {
			case p.ind > col:
				value = p.block(p.ind)
			case p.ind == col && p.isDash(p.pos+col):
				p.pos += col
				value = p.sequence()
			default:
				p.fail() // an empty value: a null, at a place yaml.v3 knows
			}
		} else {
			value = p.inline()
			p.endOfLine()
		}
		p.kids = append(p.kids, key, value)
		if p.ind != col {
			if p.ind > col {
				p.fail()
			}
			break
		}
		p.pos += col
	}
	n.Content = p.content(p.kids[base:]...)
	p.kids = p.kids[:base]
	return n
}

// isKey reports whether pos starts a key of a block mapping: a one-line
// scalar followed by ": " or ":" at the end of the line.
func (p *fastParser) isKey() bool {
	i := p.pos
	switch p.src[i] {
	case '[', '{':
		return false // a flow collection; as a key, yaml.v3's to read
	case '"', '\'':
		j := p.quotedEnd(i)
		return j > 0 && j < p.end && p.src[j] == ':' && (j+1 == p.end || p.src[j+1] == ' ' || p.src[j+1] == '\n')
	}
	for ; i < p.end && p.src[i] != '\n'; i++ {
		if p.src[i] == ':' && (i+1 == p.end || p.src[i+1] == ' ' || p.src[i+1] == '\n') {
			return true
		}
		if p.src[i] == '#' && p.src[i-1] == ' ' {
			return false
		}
	}
	return false
}

// quotedEnd is the offset after the quoted scalar at i, or 0 when it does
// not end on its line.
func (p *fastParser) quotedEnd(i int) int {
	q := p.src[i]
	for j := i + 1; j < p.end; j++ {
		switch p.src[j] {
		case '\n':
			return 0
		case '\\':
			if q == '"' {
				j++
			}
		case q:
			if q == '\'' && j+1 < p.end && p.src[j+1] == '\'' {
				j++
				continue
			}
			return j + 1
		}
	}
	return 0
}

// key parses the key at pos (isKey holds) and moves past its colon.
func (p *fastParser) key() *yaml.Node {
	var k *yaml.Node
	if c := p.src[p.pos]; c == '"' || c == '\'' {
		k = p.quoted()
	} else {
		i := p.pos
		for !(p.src[i] == ':' && (i+1 == p.end || p.src[i+1] == ' ' || p.src[i+1] == '\n')) {
			i++
		}
		k = p.plain(i, false)
	}
	if k.Column+len(k.Value) > 1024 || k.Tag == "!!merge" {
		p.fail() // yaml.v3 refuses a long key; merges are its to expand
	}
	p.pos++ // the colon
	return k
}

// inline parses a value that starts at pos and ends on its line: a flow
// collection, a quoted scalar or a plain one.
func (p *fastParser) inline() *yaml.Node {
	switch p.src[p.pos] {
	case '[', '{':
		return p.flow()
	case '"', '\'':
		return p.quoted()
	}
	i := p.pos
	for i < p.end && p.src[i] != '\n' && !(p.src[i] == '#' && p.src[i-1] == ' ') {
		if p.src[i] == ':' && (i+1 == p.end || p.src[i+1] == ' ' || p.src[i+1] == '\n') {
			p.fail() // a mapping where a value was expected
		}
		i++
	}
	return p.plain(i, false)
}

// plain parses the plain scalar from pos to end (less trailing blanks).
func (p *fastParser) plain(end int, flow bool) *yaml.Node {
	text := strings.TrimRight(p.src[p.pos:end], " ")
	if text == "" {
		p.fail()
	}
	switch c := text[0]; c {
	case '-', '?', ':':
		if len(text) == 1 || text[1] == ' ' || c != '-' {
			p.fail()
		}
	case ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
		p.fail()
	}
	n := p.node()
	n.Kind, n.Value, n.Line = yaml.ScalarNode, text, p.line
	n.Column = p.column(p.pos)
	n.Tag = p.resolve(text)
	p.pos = end
	return n
}

// quoted parses the one-line quoted scalar at pos.
func (p *fastParser) quoted() *yaml.Node {
	end := p.quotedEnd(p.pos)
	if end == 0 {
		p.fail()
	}
	n := p.node()
	n.Kind, n.Tag, n.Line = yaml.ScalarNode, "!!str", p.line
	n.Column = p.column(p.pos)
	raw := p.src[p.pos+1 : end-1]
	if p.src[p.pos] == '\'' {
		n.Style = yaml.SingleQuotedStyle
		n.Value = strings.ReplaceAll(raw, "''", "'")
	} else {
		n.Style = yaml.DoubleQuotedStyle
		n.Value = unescape(raw, p)
	}
	p.pos = end
	return n
}

// unescape reads the escapes of a double-quoted scalar: the common ones;
// others are yaml.v3's to read.
func unescape(raw string, p *fastParser) string {
	if !strings.Contains(raw, `\`) {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		switch raw[i] {
		case '\\', '"', '/':
			b.WriteByte(raw[i])
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		case 'u':
			if i+4 >= len(raw) {
				p.fail()
			}
			r, err := strconv.ParseUint(raw[i+1:i+5], 16, 32)
			if err != nil || r >= 0xd800 && r <= 0xdfff {
				p.fail()
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			p.fail()
		}
	}
	return b.String()
}

// flow parses the flow collection at pos, which must end on its line.
func (p *fastParser) flow() *yaml.Node {
	p.enter()
	defer func() { p.depth-- }()
	n := p.node()
	n.Line, n.Column, n.Style = p.line, p.column(p.pos), yaml.FlowStyle
	closing := byte(']')
	if p.src[p.pos] == '{' {
		n.Kind, n.Tag, closing = yaml.MappingNode, "!!map", '}'
	} else {
		n.Kind, n.Tag = yaml.SequenceNode, "!!seq"
	}
	p.pos++
	base := len(p.kids)
	for {
		p.spaces()
		if p.src[p.pos] == closing {
			break
		}
		item := p.flowItem(closing == '}')
		p.spaces()
		if n.Kind == yaml.MappingNode {
			if p.src[p.pos] != ':' {
				p.fail() // a key without a value
			}
			p.pos++
			p.spaces()
			if c := p.src[p.pos]; c == ',' || c == '}' {
				p.fail() // an empty value
			}
			value := p.flowItem(false)
			p.kids = append(p.kids, item, value)
			p.spaces()
		} else {
			if p.src[p.pos] == ':' {
				p.fail() // a pair inside a sequence
			}
			p.kids = append(p.kids, item)
		}
		if p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.src[p.pos] != closing {
			p.fail()
		}
		break
	}
	p.pos++ // the closing bracket
	n.Content = p.content(p.kids[base:]...)
	p.kids = p.kids[:base]
	return n
}

// spaces moves past blanks inside a flow collection, which must not end
// its line.
func (p *fastParser) spaces() {
	for p.pos < p.end && p.src[p.pos] == ' ' {
		p.pos++
	}
	if p.pos == p.end || p.src[p.pos] == '\n' || p.src[p.pos] == '#' {
		p.fail()
	}
}

// flowItem parses a node inside a flow collection; key is set for the key
// of a mapping entry, which a colon ends.
func (p *fastParser) flowItem(key bool) *yaml.Node {
	switch p.src[p.pos] {
	case '[', '{':
		if key {
			p.fail()
		}
		return p.flow()
	case '"', '\'':
		return p.quoted()
	}
	i := p.pos
	for ; i < p.end; i++ {
		c := p.src[i]
		if c == ',' || c == ']' || c == '}' || c == '\n' {
			break
		}
		if c == ':' {
			if !key || i+1 < p.end && p.src[i+1] != ' ' {
				p.fail() // a colon inside a plain scalar: yaml.v3's to judge
			}
			break
		}
		if c == '[' || c == '{' || c == '?' || c == '#' && p.src[i-1] == ' ' {
			p.fail() // yaml.v3 ends a plain scalar in a flow at '?' too
		}
	}
	return p.plain(i, true)
}

// resolve is the tag yaml.v3 gives the plain scalar text.
func (p *fastParser) resolve(text string) string {
	switch c := text[0]; {
	case c >= '0' && c <= '9', c == '-', c == '+', c == '.':
		if _, err := strconv.ParseInt(text, 10, 64); err == nil && (text[0] != '0' || text == "0") && !strings.HasPrefix(text, "-0") && !strings.HasPrefix(text, "+") {
			return "!!int"
		}
		if dottedDigits(text) || strings.Trim(text, numeric) != "" && strings.IndexFunc(text, notNumeric) >= 0 {
			return "!!str" // 10.0.0.1, 5s, 1.2.3-rc1: not a number, not a date
		}
		return p.resolveByYAML(text)
	case strings.IndexByte("yYnNtTfFoO~", c) >= 0:
		switch text {
		case "true", "True", "TRUE", "false", "False", "FALSE":
			return "!!bool"
		case "~", "null", "Null", "NULL":
			return "!!null"
		}
	case c == '<' && text == "<<":
		return "!!merge"
	}
	return "!!str"
}

// numeric is every character a number or a date may hold, in any of the
// spellings yaml.v3 reads (0x1F, 0o17, 1_000, 1e3, -.inf, .NaN,
// 2001-12-14T21:59:43Z).
const numeric = "0123456789+-._: abcdefABCDEFxXoOtTzZiInN"

func notNumeric(r rune) bool { return !strings.ContainsRune(numeric, r) }

// dottedDigits reports whether s is digits with two dots or more.
func dottedDigits(s string) bool {
	dots := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			dots++
		case c < '0' || c > '9':
			return false
		}
	}
	return dots >= 2
}

// resolveByYAML asks yaml.v3 for the tag of a plain scalar that may be a
// number or a date in one of the many spellings it reads.
func (p *fastParser) resolveByYAML(text string) string {
	if tag, ok := p.tags[text]; ok {
		return tag
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil || len(doc.Content) != 1 ||
		doc.Content[0].Kind != yaml.ScalarNode || doc.Content[0].Value != text {
		p.fail()
	}
	tag := doc.Content[0].Tag
	p.tags[text] = tag
	return tag
}
