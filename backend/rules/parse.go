package rules

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/routedeck/routedeck/backend/model"
)

// SyntaxError is a condition-language parse error at a 1-based line and
// column (columns count characters, not bytes).
type SyntaxError struct {
	Line, Column int
	Offset       int // byte offset into the text
	Msg          string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg) }

// methodOps maps the method names of the text form to model operators.
var methodOps = func() map[string]string {
	m := make(map[string]string, len(model.Operators))
	for _, op := range model.Operators {
		m[op.Method] = op.Name
	}
	return m
}()

// opMethods is the inverse of methodOps, for the printer.
var opMethods = func() map[string]string {
	m := make(map[string]string, len(methodOps))
	for name, op := range methodOps {
		m[op] = name
	}
	return m
}()

// plainFields are the fields written without a key.
var plainFields = func() []string {
	var out []string
	for _, f := range model.FieldKinds {
		if !f.Keyed {
			out = append(out, f.Name)
		}
	}
	return out
}()

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokPunct
)

type token struct {
	kind  tokKind
	text  string // source text (for strings: with quotes)
	value string // decoded string literal
	off   int
}

// punctuation, longest first so "&&" wins over a lone '&'.
var puncts = []string{"&&", "||", "==", "!=", "!", "(", ")", "[", "]", ",", "."}

type parser struct {
	src   string
	toks  []token
	pos   int
	depth int // open groups and negations, bounded by maxDepth
}

// Parse reads condition-language text into a tree. Empty (or blank) text is
// the empty condition, which matches every request. Parse checks syntax
// only; model.Condition.Validate judges whether field, operator and value fit.
func Parse(text string) (model.Condition, error) {
	p := &parser{src: text}
	if err := p.lex(); err != nil {
		return model.Condition{}, err
	}
	if p.peek().kind == tokEOF {
		return model.Condition{}, nil
	}
	c, err := p.parseOr()
	if err != nil {
		return model.Condition{}, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return model.Condition{}, p.errAt(t.off, "unexpected %s: join conditions with && or ||", describe(t))
	}
	return c, nil
}

func (p *parser) errAt(off int, format string, args ...any) error {
	line, col := 1, 1
	for _, r := range p.src[:off] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &SyntaxError{Line: line, Column: col, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) lex() error {
	s := p.src
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"':
			start := i
			i++
			closed := false
			for i < len(s) {
				if s[i] == '\\' {
					i += 2
					continue
				}
				if s[i] == '"' {
					closed = true
					i++
					break
				}
				if s[i] == '\n' {
					break
				}
				i++
			}
			if !closed || i > len(s) {
				return p.errAt(start, "unterminated string")
			}
			lit := s[start:i]
			if !utf8.ValidString(lit) {
				return p.errAt(start, "string is not valid UTF-8")
			}
			var v string
			if err := json.Unmarshal([]byte(lit), &v); err != nil {
				return p.errAt(start, "invalid string %s: use JSON escapes (\\\" \\\\ \\n \\t \\uXXXX)", lit)
			}
			p.toks = append(p.toks, token{kind: tokString, text: lit, value: v, off: start})
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			start := i
			for i < len(s) && (s[i] == '_' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9') {
				i++
			}
			p.toks = append(p.toks, token{kind: tokIdent, text: s[start:i], off: start})
		case strings.HasPrefix(s[i:], "=~"):
			return p.errAt(i, "=~ is not part of the language: use .regex(\"...\")")
		default:
			matched := false
			for _, pu := range puncts {
				if strings.HasPrefix(s[i:], pu) {
					p.toks = append(p.toks, token{kind: tokPunct, text: pu, off: i})
					i += len(pu)
					matched = true
					break
				}
			}
			if !matched {
				r, _ := utf8.DecodeRuneInString(s[i:])
				return p.errAt(i, "unexpected character %q", r)
			}
		}
	}
	p.toks = append(p.toks, token{kind: tokEOF, off: len(s)})
	return nil
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) peekAt(n int) token {
	if p.pos+n >= len(p.toks) {
		return p.toks[len(p.toks)-1]
	}
	return p.toks[p.pos+n]
}

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

func isPunct(t token, s string) bool { return t.kind == tokPunct && t.text == s }

func isIdent(t token, s string) bool { return t.kind == tokIdent && t.text == s }

func describe(t token) string {
	if t.kind == tokEOF {
		return "end of text"
	}
	return fmt.Sprintf("%q", t.text)
}

func (p *parser) expectPunct(s, after string) error {
	t := p.next()
	if !isPunct(t, s) {
		return p.errAt(t.off, "expected %q %s, found %s", s, after, describe(t))
	}
	return nil
}

func (p *parser) expectString(what string) (string, error) {
	t := p.next()
	if t.kind != tokString {
		return "", p.errAt(t.off, "expected %s, found %s", what, describe(t))
	}
	return t.value, nil
}

func (p *parser) parseOr() (model.Condition, error) {
	first, err := p.parseAnd()
	if err != nil || !isPunct(p.peek(), "||") {
		return first, err
	}
	any := []model.Condition{first}
	for isPunct(p.peek(), "||") {
		p.next()
		c, err := p.parseAnd()
		if err != nil {
			return model.Condition{}, err
		}
		any = append(any, c)
	}
	return model.Condition{Any: any}, nil
}

func (p *parser) parseAnd() (model.Condition, error) {
	first, err := p.parseUnary()
	if err != nil || !isPunct(p.peek(), "&&") {
		return first, err
	}
	all := []model.Condition{first}
	for isPunct(p.peek(), "&&") {
		p.next()
		c, err := p.parseUnary()
		if err != nil {
			return model.Condition{}, err
		}
		all = append(all, c)
	}
	return model.Condition{All: all}, nil
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 200

func (p *parser) parseUnary() (model.Condition, error) {
	t := p.peek()
	if isPunct(t, "!") || isPunct(t, "(") {
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return model.Condition{}, p.errAt(t.off, "condition nested too deeply (more than %d levels)", maxDepth)
		}
	}
	switch {
	case isPunct(t, "!"):
		p.next()
		inner, err := p.parseUnary()
		if err != nil {
			return model.Condition{}, err
		}
		return model.Not(inner), nil
	case isPunct(t, "("):
		p.next()
		inner, err := p.parseOr()
		if err != nil {
			return model.Condition{}, err
		}
		if err := p.expectPunct(")", "to close the group opened at "+p.position(t.off)); err != nil {
			return model.Condition{}, err
		}
		return inner, nil
	}
	return p.parsePredicate()
}

func (p *parser) position(off int) string {
	err := p.errAt(off, "").(*SyntaxError)
	return fmt.Sprintf("%d:%d", err.Line, err.Column)
}

func (p *parser) parseField() (string, error) {
	t := p.next()
	if t.kind != tokIdent {
		return "", p.errAt(t.off, "expected a field (host, path, method, scheme, header[\"...\"], query[\"...\"], cookie[\"...\"], grpc), found %s", describe(t))
	}
	name := t.text
	switch name {
	case model.FieldHeader, model.FieldQuery, model.FieldCookie:
		if !isPunct(p.peek(), "[") {
			return "", p.errAt(p.peek().off, "%s needs a name: %s[\"...\"]", name, name)
		}
		p.next()
		keyTok := p.peek()
		key, err := p.expectString("the " + name + " name (a quoted string)")
		if err != nil {
			return "", err
		}
		if key == "" {
			return "", p.errAt(keyTok.off, "%s name must not be empty", name)
		}
		if err := p.expectPunct("]", "after the "+name+" name"); err != nil {
			return "", err
		}
		return model.KeyedField(name, key), nil
	case model.FieldGRPC:
		if sub := p.peekAt(1); isPunct(p.peek(), ".") && (isIdent(sub, "service") || isIdent(sub, "method")) && !isPunct(p.peekAt(2), "(") {
			p.next()
			p.next()
			return "grpc." + sub.text, nil
		}
		return name, nil
	}
	for _, f := range plainFields {
		if f == name {
			return name, nil
		}
	}
	return "", p.errAt(t.off, "unknown field %q: expected host, path, method, scheme, header, query, cookie, grpc, grpc.service or grpc.method", name)
}

func (p *parser) parseList() ([]string, error) {
	if err := p.expectPunct("[", "to start a list"); err != nil {
		return nil, err
	}
	var out []string
	if isPunct(p.peek(), "]") {
		p.next()
		return out, nil
	}
	for {
		v, err := p.expectString("a quoted string in the list")
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		t := p.next()
		if isPunct(t, "]") {
			return out, nil
		}
		if !isPunct(t, ",") {
			return nil, p.errAt(t.off, "expected \",\" or \"]\" in the list, found %s", describe(t))
		}
	}
}

func (p *parser) parsePredicate() (model.Condition, error) {
	field, err := p.parseField()
	if err != nil {
		return model.Condition{}, err
	}
	c := model.Condition{Field: field}
	t := p.next()
	switch {
	case isPunct(t, "=="), isPunct(t, "!="):
		c.Op = model.OpEquals
		if t.text == "!=" {
			c.Op = model.OpNotEquals
		}
		c.Value, err = p.expectString("a quoted string after " + t.text)
		return c, err
	case isIdent(t, "in"):
		c.Op = model.OpIn
		c.Values, err = p.parseList()
		return c, err
	case isIdent(t, "not"):
		if u := p.next(); !isIdent(u, "in") {
			return c, p.errAt(u.off, "expected \"in\" after \"not\", found %s", describe(u))
		}
		c.Op = model.OpNotIn
		c.Values, err = p.parseList()
		return c, err
	case !isPunct(t, "."):
		return c, p.errAt(t.off, "expected an operator after %s (==, !=, in, not in, .prefix(...), .regex(...), ...), found %s", field, describe(t))
	}
	m := p.next()
	op, ok := methodOps[m.text]
	if m.kind != tokIdent || !ok {
		return c, p.errAt(m.off, "unknown operator %s: expected one of equals, notEquals, prefix, suffix, contains, regex, exact, segmentPrefix, template, in, notIn, present, absent", describe(m))
	}
	c.Op = op
	if err := p.expectPunct("(", "after ."+m.text); err != nil {
		return c, err
	}
	list := model.ShapeOf(op) == model.ShapeValues
	nullary := model.ShapeOf(op) == model.ShapeNone
	sawValue := false
	for first := true; !isPunct(p.peek(), ")"); first = false {
		if !first {
			if err := p.expectPunct(",", "between arguments"); err != nil {
				return c, err
			}
		}
		a := p.peek()
		switch {
		case isIdent(a, "ignoreCase") && !c.IgnoreCase:
			p.next()
			c.IgnoreCase = true
		case list && !sawValue:
			if c.Values, err = p.parseList(); err != nil {
				return c, err
			}
			sawValue = true
		case !list && !nullary && !sawValue:
			if c.Value, err = p.expectString("a quoted string argument to ." + m.text + "()"); err != nil {
				return c, err
			}
			sawValue = true
		default:
			return c, p.errAt(a.off, "unexpected argument %s to .%s()", describe(a), m.text)
		}
	}
	p.next()
	if !sawValue && !nullary {
		what := "a quoted string"
		if list {
			what = "a list"
		}
		return c, p.errAt(m.off, ".%s() needs %s", m.text, what)
	}
	return c, nil
}
