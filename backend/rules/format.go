package rules

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/routedeck/routedeck/backend/model"
)

// Format prints c as canonical condition-language text: operator forms for
// case-sensitive ==, !=, in and not in, method forms for everything else,
// JSON string literals, and parentheses only where the tree needs them
// (a group inside a group, and always around the operand of "!").
// The zero condition prints as "". Format is total: trees that Validate
// would reject still print, though the text may not parse back.
func Format(c model.Condition) string {
	if c.IsZero() {
		return ""
	}
	var b strings.Builder
	writeOr(&b, c)
	return b.String()
}

func isGroup(c model.Condition) bool { return len(c.All) > 0 || len(c.Any) > 0 }

// unwrap skips groups with a single member, which have no text of their own.
func unwrap(c model.Condition) model.Condition {
	for len(c.All) == 1 && c.Any == nil || len(c.Any) == 1 && c.All == nil {
		if len(c.All) == 1 {
			c = c.All[0]
		} else {
			c = c.Any[0]
		}
	}
	return c
}

func writeOr(b *strings.Builder, c model.Condition) {
	c = unwrap(c)
	if len(c.Any) > 0 {
		writeJoined(b, c.Any, " || ", writeAnd)
		return
	}
	writeAnd(b, c)
}

func writeAnd(b *strings.Builder, c model.Condition) {
	c = unwrap(c)
	if len(c.All) > 0 {
		writeJoined(b, c.All, " && ", writeUnary)
		return
	}
	writeUnary(b, c)
}

func writeJoined(b *strings.Builder, cs []model.Condition, sep string, write func(*strings.Builder, model.Condition)) {
	for i, c := range cs {
		if i > 0 {
			b.WriteString(sep)
		}
		write(b, c)
	}
}

func writeUnary(b *strings.Builder, c model.Condition) {
	c = unwrap(c)
	switch {
	case c.Not != nil:
		// The operand is always parenthesised so "!" never reads as applying
		// to the field alone: !(header["x"] == "a").
		b.WriteString("!(")
		writeOr(b, *c.Not)
		b.WriteString(")")
	case isGroup(c):
		b.WriteString("(")
		writeOr(b, c)
		b.WriteString(")")
	case !c.IsPredicate():
		// An empty node or group has no text of its own (Validate rejects it
		// inside a tree); print something readable rather than nothing.
		b.WriteString("true")
	default:
		writePredicate(b, c)
	}
}

func writePredicate(b *strings.Builder, c model.Condition) {
	writeField(b, c.Field)
	if op, ok := model.LookupOperator(c.Op); ok && op.Infix != "" && !c.IgnoreCase {
		b.WriteString(" " + op.Infix + " ")
		if op.Shape == model.ShapeValues {
			writeList(b, c.Values)
		} else {
			b.WriteString(Quote(c.Value))
		}
		return
	}
	method, ok := opMethods[c.Op]
	if !ok {
		method = c.Op
	}
	b.WriteString(".")
	b.WriteString(method)
	b.WriteString("(")
	switch model.ShapeOf(c.Op) {
	case model.ShapeNone:
		if c.IgnoreCase {
			b.WriteString("ignoreCase")
		}
	case model.ShapeValues:
		writeList(b, c.Values)
		if c.IgnoreCase {
			b.WriteString(", ignoreCase")
		}
	default:
		b.WriteString(Quote(c.Value))
		if c.IgnoreCase {
			b.WriteString(", ignoreCase")
		}
	}
	b.WriteString(")")
}

func writeField(b *strings.Builder, f string) {
	kind, key, ok := model.ParseField(f)
	if ok && key != "" {
		b.WriteString(kind)
		b.WriteString("[")
		b.WriteString(Quote(key))
		b.WriteString("]")
		return
	}
	b.WriteString(f)
}

func writeList(b *strings.Builder, vs []string) {
	b.WriteString("[")
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(Quote(v))
	}
	b.WriteString("]")
}

// Quote writes s as a JSON string literal, the string syntax of the
// condition language, escaping exactly what JSON.stringify escapes so the
// browser prints the same text. Invalid UTF-8 becomes U+FFFD.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				b.WriteString(`\u00`)
				b.WriteString(strconv.FormatInt(int64(r)>>4, 16))
				b.WriteString(strconv.FormatInt(int64(r)&0xf, 16))
				continue
			}
			if r == utf8.RuneError {
				r = '\uFFFD'
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Normalize returns c in the shape Parse produces for Format(c): groups with
// one member collapse into that member, empty lists become nil, values are
// made valid UTF-8, and Text is dropped. Nested groups of the same kind are
// kept, because the text keeps them as parenthesised groups.
func Normalize(c model.Condition) model.Condition {
	switch {
	case c.Not != nil:
		inner := Normalize(*c.Not)
		return model.Condition{Not: &inner}
	case len(c.All) == 1:
		return Normalize(c.All[0])
	case len(c.Any) == 1:
		return Normalize(c.Any[0])
	case len(c.All) > 0:
		return model.Condition{All: normalizeList(c.All)}
	case len(c.Any) > 0:
		return model.Condition{Any: normalizeList(c.Any)}
	}
	out := model.Condition{Field: c.Field, Op: c.Op, IgnoreCase: c.IgnoreCase}
	out.Field = strings.ToValidUTF8(out.Field, "\uFFFD")
	switch model.ShapeOf(c.Op) {
	case model.ShapeValues:
		for _, v := range c.Values {
			out.Values = append(out.Values, strings.ToValidUTF8(v, "\uFFFD"))
		}
	case model.ShapeNone:
	default:
		out.Value = strings.ToValidUTF8(c.Value, "\uFFFD")
	}
	return out
}

func normalizeList(cs []model.Condition) []model.Condition {
	out := make([]model.Condition, len(cs))
	for i, c := range cs {
		out[i] = Normalize(c)
	}
	return out
}
