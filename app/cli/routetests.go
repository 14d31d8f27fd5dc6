package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strings"
	"text/tabwriter"

	yamlv3 "gopkg.in/yaml.v3"

	"github.com/routedeck/routedeck/backend/input"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/routetest"
)

// kindRouteTest is the kind of route test documents: they live beside the
// gateways, upstreams and routes in files, but under /tests in the API.
const kindRouteTest = "RouteTest"

// testPath is a test's API path.
func testPath(name string) string { return "/tests/" + url.PathEscape(name) }

// getTests prints the route tests named (or all of them) in output's format.
func (o *options) getTests(ctx context.Context, c *client, name, output string) error {
	var tests []routetest.Test
	if name != "" {
		var raw []byte
		if err := c.do(ctx, "GET", testPath(name), nil, &raw); err != nil {
			return err
		}
		if output == "json" {
			_, err := o.stdout.Write(raw)
			return err
		}
		var t routetest.Test
		if err := json.Unmarshal(raw, &t); err != nil {
			return fmt.Errorf("decode test %q: %w", name, err)
		}
		tests = []routetest.Test{t}
	} else {
		views, err := c.listAll(ctx, "/tests")
		if err != nil {
			return err
		}
		if output == "json" {
			return writeJSONList(o.stdout, views)
		}
		for _, v := range views {
			var t routetest.Test
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("decode test: %w", err)
			}
			tests = append(tests, t)
		}
	}
	if output == "yaml" {
		return writeTestDocs(o.stdout, tests)
	}
	tw := tabwriter.NewWriter(o.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tGATEWAY\tREQUEST\tEXPECT")
	for _, t := range tests {
		method := t.Request.Method
		if method == "" {
			method = "GET"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s %s\t%s\n", t.Name, t.Version, t.Gateway, method, t.Request.URL, expectSummary(t.Expect))
	}
	return tw.Flush()
}

// expectSummary is a table cell of what a test expects.
func expectSummary(e routetest.Expect) string {
	var parts []string
	str := func(name string, v *string) {
		if v != nil {
			parts = append(parts, name+"="+*v)
		}
	}
	str("rule", e.Rule)
	str("upstream", e.Upstream)
	if e.UpstreamIn != nil {
		parts = append(parts, "upstream in "+strings.Join(e.UpstreamIn, "|"))
	}
	str("path", e.Path)
	str("host", e.Host)
	str("redirect", e.Redirect)
	if e.Status != nil {
		parts = append(parts, fmt.Sprintf("status=%d", *e.Status))
	}
	if n := len(e.RequestHeaders) + len(e.ResponseHeaders); n > 0 {
		parts = append(parts, plural(n, "header", "headers"))
	}
	return strings.Join(parts, " ")
}

// writeTestDocs writes tests as RouteTest documents apply reads back:
// kind first, no version.
func writeTestDocs(w io.Writer, tests []routetest.Test) error {
	for i, t := range tests {
		t.Version = 0
		raw, err := json.Marshal(t)
		if err != nil {
			return err
		}
		node, err := jsonToNode(json.NewDecoder(bytes.NewReader(raw)))
		if err != nil {
			return err
		}
		node.Content = append([]*yamlv3.Node{scalar("kind"), scalar(kindRouteTest)}, node.Content...)
		if i > 0 {
			fmt.Fprintln(w, "---")
		}
		enc := yamlv3.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(node); err != nil {
			return err
		}
		if err := enc.Close(); err != nil {
			return err
		}
	}
	return nil
}

// testDocs splits the RouteTest documents out of a manifest: it returns
// the tests and the data with every line of them blanked, so the other
// documents keep their line numbers when the manifest loader reads the
// rest. Problems of the tests come back as file:line lines.
func testDocs(name string, data []byte) ([]routetest.Test, []byte, []string) {
	docs, _ := input.YAML(name, data) // the manifest loader reports a syntax error
	lines := bytes.SplitAfter(data, []byte("\n"))
	var tests []routetest.Test
	var problems []string
	for i, doc := range docs {
		if len(doc.Content) == 0 || doc.Content[0].Kind != yamlv3.MappingNode || scalarOf(doc.Content[0], "kind") != kindRouteTest {
			continue
		}
		first := doc.Content[0].Line
		end := len(lines) + 1
		if i+1 < len(docs) && len(docs[i+1].Content) > 0 {
			end = docs[i+1].Content[0].Line
		}
		for l := first; l < end && l <= len(lines); l++ {
			if trimmed := bytes.TrimSpace(lines[l-1]); bytes.HasPrefix(trimmed, []byte("---")) || bytes.Equal(trimmed, []byte("...")) {
				break
			}
			lines[l-1] = []byte("\n")
		}
		t, err := decodeTestDoc(doc)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s:%d: %v", name, first, err))
			continue
		}
		for _, f := range model.ErrorFields(t.Validate()) {
			problems = append(problems, fmt.Sprintf("%s:%d: %s", name, fieldLine(doc, f.Field, first), f))
		}
		tests = append(tests, t)
	}
	return tests, bytes.Join(lines, nil), problems
}

func scalarOf(m *yamlv3.Node, key string) string {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yamlv3.ScalarNode {
			return m.Content[i+1].Value
		}
	}
	return ""
}

// applyTests creates or updates tests one by one (the tests API has no
// all-or-nothing apply) and prints what happened to each. A test equal to
// the stored one is left alone.
func (o *options) applyTests(ctx context.Context, c *client, file string, tests []routetest.Test) error {
	var failed []string
	for _, t := range tests {
		action, version, err := putTest(ctx, c, t)
		if err != nil {
			failed = append(failed, withFile(file, prefixFields("tests."+t.Name, err)).Error())
			continue
		}
		fmt.Fprintf(o.stdout, "%s/%s %s (version %d)\n", kindRouteTest, t.Name, action, version)
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "\n"))
	}
	return nil
}

// putTest stores t: created when new, updated over the version read when
// it differs, else unchanged.
func putTest(ctx context.Context, c *client, t routetest.Test) (action string, version int64, err error) {
	var cur routetest.Test
	err = c.do(ctx, "GET", testPath(t.Name), nil, &cur)
	var saved routetest.Test
	switch {
	case model.ErrorCode(err) == model.ENOTFOUND:
		if err := c.do(ctx, "POST", "/tests", t, &saved); err != nil {
			return "", 0, err
		}
		return "created", saved.Version, nil
	case err != nil:
		return "", 0, err
	}
	want := t
	want.Version = cur.Version
	if reflect.DeepEqual(normalized(want), normalized(cur)) {
		return "unchanged", cur.Version, nil
	}
	if err := c.do(ctx, "PUT", testPath(t.Name), want, &saved); err != nil {
		return "", 0, err
	}
	return "updated", saved.Version, nil
}

// normalized is t as JSON would give it back, so a nil and an empty map
// compare equal.
func normalized(t routetest.Test) routetest.Test {
	raw, _ := json.Marshal(t)
	var out routetest.Test
	_ = json.Unmarshal(raw, &out)
	return out
}

// prefixFields puts a server error's fields under prefix, so a file of
// several tests says which one a problem is in.
func prefixFields(prefix string, err error) error {
	var e *model.Error
	if !errors.As(err, &e) {
		return err
	}
	if len(e.Fields) == 0 {
		return &model.Error{Code: e.Code, Message: e.Message, Fields: []model.FieldError{{Field: prefix, Message: e.Message}}}
	}
	out := &model.Error{Code: e.Code, Message: e.Message}
	for _, f := range e.Fields {
		out.Fields = append(out.Fields, model.FieldError{Field: model.JoinPath(prefix, f.Field), Message: f.Message})
	}
	return out
}

// plural is "1 object" or "2 objects".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
