package rules

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/routedeck/routedeck/backend/model"
)

var equateEmpty = cmpopts.EquateEmpty()

func TestParse(t *testing.T) {
	host := model.Pred(model.FieldHost, model.OpEquals, "shop.example.com")
	tests := map[string]struct {
		text      string
		want      model.Condition
		canonical string // Format(want); defaults to text
	}{
		"empty":  {text: "", want: model.Condition{}},
		"blank":  {text: " \n\t ", want: model.Condition{}, canonical: ""},
		"equals": {text: `host == "shop.example.com"`, want: host},
		"brief example": {
			text: `host == "shop.example.com" && (path.prefix("/v1") || header["x-canary"] == "1") && method in ["GET", "HEAD"] && !query["debug"].present()`,
			want: model.And(
				host,
				model.Or(model.Pred(model.FieldPath, model.OpPrefix, "/v1"), model.Pred("header[x-canary]", model.OpEquals, "1")),
				model.Condition{Field: model.FieldMethod, Op: model.OpIn, Values: []string{"GET", "HEAD"}},
				model.Not(model.Pred("query[debug]", model.OpPresent, "")),
			),
			canonical: `host == "shop.example.com" && (path.prefix("/v1") || header["x-canary"] == "1") && method in ["GET", "HEAD"] && !(query["debug"].present())`,
		},
		"precedence and binds tighter": {
			text: `path == "/a" || path == "/b" && method == "GET"`,
			want: model.Or(model.Pred(model.FieldPath, model.OpEquals, "/a"),
				model.And(model.Pred(model.FieldPath, model.OpEquals, "/b"), model.Pred(model.FieldMethod, model.OpEquals, "GET"))),
		},
		"nested group of the same kind is kept": {
			text: `host == "a" && (path.prefix("/x") && method == "GET")`,
			want: model.And(model.Pred(model.FieldHost, model.OpEquals, "a"),
				model.And(model.Pred(model.FieldPath, model.OpPrefix, "/x"), model.Pred(model.FieldMethod, model.OpEquals, "GET"))),
		},
		"redundant parentheses vanish": {
			text:      `((host == "a"))`,
			want:      model.Pred(model.FieldHost, model.OpEquals, "a"),
			canonical: `host == "a"`,
		},
		"not in and not-equals": {
			text: `method not in ["POST"] && scheme != "http"`,
			want: model.And(model.Condition{Field: model.FieldMethod, Op: model.OpNotIn, Values: []string{"POST"}},
				model.Pred(model.FieldScheme, model.OpNotEquals, "http")),
		},
		"ignoreCase methods": {
			text: `header["x-env"].equals("Prod", ignoreCase) && path.prefix("/API", ignoreCase) && method.in(["get"], ignoreCase)`,
			want: model.And(
				model.Condition{Field: "header[x-env]", Op: model.OpEquals, Value: "Prod", IgnoreCase: true},
				model.Condition{Field: model.FieldPath, Op: model.OpPrefix, Value: "/API", IgnoreCase: true},
				model.Condition{Field: model.FieldMethod, Op: model.OpIn, Values: []string{"get"}, IgnoreCase: true},
			),
		},
		"method forms without ignoreCase print as operators": {
			text:      `host.equals("a") && host.notIn(["b"])`,
			want:      model.And(model.Pred(model.FieldHost, model.OpEquals, "a"), model.Condition{Field: model.FieldHost, Op: model.OpNotIn, Values: []string{"b"}}),
			canonical: `host == "a" && host not in ["b"]`,
		},
		"path specifiers": {
			text: `path.exact("/a") || path.segmentPrefix("/api") || path.template("/users/{id}/**") || path.regex("/v[0-9]+/.*")`,
			want: model.Or(
				model.Pred(model.FieldPath, model.OpExact, "/a"),
				model.Pred(model.FieldPath, model.OpSegmentPrefix, "/api"),
				model.Pred(model.FieldPath, model.OpTemplate, "/users/{id}/**"),
				model.Pred(model.FieldPath, model.OpRegex, "/v[0-9]+/.*"),
			),
		},
		"grpc fields": {
			text: `grpc.present() && grpc.service == "shop.v1.Cart" && grpc.method.prefix("Add")`,
			want: model.And(
				model.Pred(model.FieldGRPC, model.OpPresent, ""),
				model.Pred(model.FieldGRPCService, model.OpEquals, "shop.v1.Cart"),
				model.Pred(model.FieldGRPCMethod, model.OpPrefix, "Add"),
			),
		},
		"escapes": {
			text:      "cookie[\"a]b\"] == \"q\\\"\\\\\\n\\u00e9\\t\" && header[\"x\"].suffix(\"\\u0001\")",
			want:      model.And(model.Pred("cookie[a]b]", model.OpEquals, "q\"\\\né\t"), model.Pred("header[x]", model.OpSuffix, "\x01")),
			canonical: "cookie[\"a]b\"] == \"q\\\"\\\\\\né\\t\" && header[\"x\"].suffix(\"\\u0001\")",
		},
		"double negation": {
			text:      `!!host == "a"`,
			want:      model.Not(model.Not(model.Pred(model.FieldHost, model.OpEquals, "a"))),
			canonical: `!(!(host == "a"))`,
		},
		"multi-line": {
			text:      "host == \"a\"\n  && path.prefix(\"/b\")",
			want:      model.And(model.Pred(model.FieldHost, model.OpEquals, "a"), model.Pred(model.FieldPath, model.OpPrefix, "/b")),
			canonical: `host == "a" && path.prefix("/b")`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Parse(tc.text)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.text, err)
			}
			if diff := cmp.Diff(tc.want, got, equateEmpty); diff != "" {
				t.Fatalf("Parse(%q) mismatch (-want +got):\n%s", tc.text, diff)
			}
			canonical := tc.canonical
			if canonical == "" && tc.text != "" && strings.TrimSpace(tc.text) != "" {
				canonical = tc.text
			}
			if got := Format(tc.want); got != canonical {
				t.Fatalf("Format = %s\nwant     %s", got, canonical)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := map[string]struct {
		text string
		want string
	}{
		"missing string after ==":   {`host == shop`, `1:9: expected a quoted string after ==, found "shop"`},
		"column after prefix":       {`path.prefix("/a") && host == `, `1:30: expected a quoted string after ==, found end of text`},
		"second line":               {"host == \"a\" &&\n  hots == \"b\"", `2:3: unknown field "hots"`},
		"unknown method":            {`path.startsWith("/a")`, `1:6: unknown operator "startsWith"`},
		"unterminated string":       {`host == "abc`, `1:9: unterminated string`},
		"bad escape":                {`host == "a\q"`, `1:9: invalid string`},
		"unclosed group":            {`(host == "a"`, `1:13: expected ")" to close the group opened at 1:1`},
		"juxtaposed predicates":     {`host == "a" path == "/"`, `1:13: unexpected "path": join conditions with && or ||`},
		"single ampersand":          {`host == "a" & path == "/"`, `1:13: unexpected character '&'`},
		"empty header name":         {`header[""].present()`, `1:8: header name must not be empty`},
		"header without name":       {`header == "a"`, `1:8: header needs a name`},
		"not without in":            {`method not ["GET"]`, `1:12: expected "in" after "not"`},
		"method needs value":        {`path.prefix()`, `1:6: .prefix() needs a quoted string`},
		"present takes no value":    {`header["x"].present("a")`, `1:21: unexpected argument`},
		"list element not string":   {`method in [GET]`, `1:12: expected a quoted string in the list`},
		"unicode column":            {`host == "é" && ?`, `1:16: unexpected character '?'`},
		"regex operator not in use": {`path =~ "/a"`, `1:6: =~ is not part of the language: use .regex("...")`},
		"too deep":                  {strings.Repeat("!", 300) + `host == "a"`, `nested too deeply`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tc.text)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want error %q", tc.text, tc.want)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *SyntaxError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// genCondition builds a random tree over every field, operator and a set of
// awkward strings (quotes, escapes, non-ASCII, operators inside values).
func genCondition(r *rand.Rand, depth int) model.Condition {
	x := r.Float64()
	if depth <= 0 || x < 0.4 {
		return genPredicate(r)
	}
	if x < 0.55 {
		return model.Not(genCondition(r, depth-1))
	}
	kids := make([]model.Condition, 1+r.IntN(4)) // 1 exercises collapsing
	for i := range kids {
		kids[i] = genCondition(r, depth-1)
	}
	if x < 0.8 {
		return model.And(kids...)
	}
	return model.Or(kids...)
}

var genStrings = []string{"", "shop.example.com", "/static", "GET", `a "quoted" value`, `back\slash`, "tab\tnew\nline", "ünïcødé 😀", "*.example.com", `^/v[0-9]+/.*$`, "]", "&& ||", "\x00\x1f\x7f", "bad\xffutf8"}

func genPredicate(r *rand.Rand) model.Condition {
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	var field string
	if r.IntN(10) < 6 {
		field = pick(plainFields)
	} else {
		field = model.KeyedField(pick([]string{model.FieldHeader, model.FieldQuery, model.FieldCookie}), pick([]string{"x-canary", "v", "session id", "a]b", "é\"q"}))
	}
	ops := make([]string, 0, len(methodOps))
	for _, op := range methodOps {
		ops = append(ops, op)
	}
	op := ops[r.IntN(len(ops))]
	c := model.Condition{Field: field, Op: op, IgnoreCase: r.IntN(4) == 0}
	switch op {
	case model.OpIn, model.OpNotIn:
		for range r.IntN(4) {
			c.Values = append(c.Values, pick(genStrings))
		}
	case model.OpPresent, model.OpAbsent:
	default:
		c.Value = pick(genStrings)
	}
	return c
}

// TestRoundTrip checks Parse(Format(c)) == Normalize(c) over random trees,
// and that formatting is a fixed point.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		c := genCondition(r, 4)
		want := Normalize(c)
		text := Format(c)
		got, err := Parse(text)
		if err != nil {
			t.Fatalf("case %d: Parse(%s): %v", i, text, err)
		}
		if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
			t.Fatalf("case %d: %s\n(-want +got):\n%s", i, text, diff)
		}
		if again := Format(got); again != text {
			t.Fatalf("case %d: Format not stable:\n%s\n%s", i, text, again)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		``, `host == "a"`, `!(path.prefix("/a") || header["x"].present()) && method in ["GET", "HEAD"]`,
		`query["a"].equals("b", ignoreCase)`, `grpc.service.regex("a.*")`, `cookie["s"] not in []`,
		`((((host != "\u00e9"))))`, `path.template("/{a}/**")`, "host ==\n\"x\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse(text)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || se.Column < 1 {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		out := Format(c)
		c2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Format(Parse(%q))) = %v (formatted %q)", text, err, out)
		}
		if diff := cmp.Diff(c, c2, equateEmpty); diff != "" {
			t.Fatalf("tree changed after format %q:\n%s", out, diff)
		}
		if out2 := Format(c2); out2 != out {
			t.Fatalf("format not stable: %q then %q", out, out2)
		}
	})
}

func TestResolve(t *testing.T) {
	var r model.Route
	doc := `{"name":"r","gateway":"g","when":{"any":["host == \"a.com\"", {"not": "path.prefix(\"/x\")"}]},"then":{"forward":[{"upstream":"u"}]}}`
	if err := json.Unmarshal([]byte(doc), &r); err != nil {
		t.Fatal(err)
	}
	if err := Resolve(&r); err != nil {
		t.Fatal(err)
	}
	want := model.Or(model.Pred(model.FieldHost, model.OpEquals, "a.com"), model.Not(model.Pred(model.FieldPath, model.OpPrefix, "/x")))
	if diff := cmp.Diff(want, r.When, equateEmpty); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("resolved route does not validate: %v", err)
	}

	ws := model.Workspace{Routes: []model.Route{
		{When: model.Condition{Text: `host == "ok"`}},
		{When: model.Condition{Text: `host == `}},
		{When: model.Condition{All: []model.Condition{{Text: `path.prefix("/a")`}, {Text: `bogus`}}}},
	}}
	err := ResolveWorkspace(&ws)
	got := model.ErrorFields(err)
	wantFields := []model.FieldError{
		{Field: "routes[1].when", Message: "1:9: expected a quoted string after ==, found end of text"},
		{Field: "routes[2].when.all[1]", Message: `1:1: unknown field "bogus": expected host, path, method, scheme, header, query, cookie, grpc, grpc.service or grpc.method`},
	}
	if diff := cmp.Diff(wantFields, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if model.ErrorCode(err) != model.EINVALID {
		t.Fatalf("code = %q", model.ErrorCode(err))
	}
	if ws.Routes[0].When.Text != "" || ws.Routes[0].When.Field != model.FieldHost {
		t.Fatalf("route 0 not resolved: %+v", ws.Routes[0].When)
	}
}

func TestQuote(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"plain":           {"abc", `"abc"`},
		"quote and back":  {`a"b\c`, `"a\"b\\c"`},
		"named escapes":   {"\n\r\t\b\f", `"\n\r\t\b\f"`},
		"other controls":  {"\x00\x1f", `"\u0000\u001f"`},
		"del and unicode": {"\x7fé😀\u2028", "\"\x7fé😀\u2028\""},
		"invalid utf8":    {"a\xffb", "\"a\uFFFDb\""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Quote(tc.in)
			if got != tc.want {
				t.Fatalf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
			}
			var back string
			if err := json.Unmarshal([]byte(got), &back); err != nil || back != strings.ToValidUTF8(tc.in, "\uFFFD") {
				t.Fatalf("JSON reads %s as %q (%v)", got, back, err)
			}
		})
	}
}
