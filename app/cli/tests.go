package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	yamlv3 "gopkg.in/yaml.v3"
	"sigs.k8s.io/yaml"

	"github.com/routedeck/routedeck/backend/input"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/routetest"
	"github.com/routedeck/routedeck/backend/strictjson"
)

func newTestCmd(o *options) *cobra.Command {
	var gateway, file, importEnvoy string
	var exportEnvoy bool
	cmd := &cobra.Command{
		Use:   "test [--gateway G] [-f TESTS.yaml] [--export-envoy | --import-envoy FILE]",
		Short: "Run route tests against the server's draft (exit 1 if any fails)",
		Long: `Runs route tests over the draft on the server: the saved tests of --gateway
(or of every gateway), or the RouteTest documents of -f FILE without saving
them. Each failure is printed with the engine that saw it (the reference
evaluator, and the sandbox data plane when it runs) and the expected and
actual values. Exits 1 if any test fails.

--export-envoy prints the saved tests as an Envoy router_check_tool test file
(expectations the format cannot carry are listed on stderr); --import-envoy
FILE saves the tests of such a file under --gateway.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			modes := 0
			for _, set := range []bool{file != "", exportEnvoy, importEnvoy != ""} {
				if set {
					modes++
				}
			}
			if modes > 1 {
				return errors.New("use one of -f, --export-envoy and --import-envoy")
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			switch {
			case exportEnvoy:
				var res struct {
					File    json.RawMessage     `json:"file"`
					Skipped []routetest.Skipped `json:"skipped"`
				}
				path := "/tests/envoy"
				if gateway != "" {
					path += "?gateway=" + url.QueryEscape(gateway)
				}
				if err := c.do(ctx, "GET", path, nil, &res); err != nil {
					return err
				}
				var out bytes.Buffer
				if err := json.Indent(&out, res.File, "", "  "); err != nil {
					return fmt.Errorf("server sent a malformed test file: %w", err)
				}
				fmt.Fprintln(o.stdout, out.String())
				for _, s := range res.Skipped {
					fmt.Fprintf(o.stderr, "routedeck: not exported: %s %s: %s\n", s.Test, s.Field, s.Reason)
				}
				return nil
			case importEnvoy != "":
				if gateway == "" {
					return errors.New("--import-envoy needs --gateway: the gateway the tests belong to")
				}
				data, err := input.ReadFile(importEnvoy)
				if err != nil {
					return err
				}
				tf, err := routetest.ParseEnvoy(data)
				if err != nil {
					return fmt.Errorf("%s: %w", importEnvoy, err)
				}
				var res struct {
					Items []struct {
						Name    string `json:"name"`
						Action  string `json:"action"`
						Version int64  `json:"version"`
					} `json:"items"`
				}
				if err := c.do(ctx, "POST", "/tests/envoy", map[string]any{"gateway": gateway, "file": tf}, &res); err != nil {
					return withFile(importEnvoy, err)
				}
				for _, it := range res.Items {
					fmt.Fprintf(o.stdout, "test %s %s (version %d)\n", it.Name, it.Action, it.Version)
				}
				return nil
			}
			body := map[string]any{"gateway": gateway}
			if file != "" {
				tests, err := o.loadTestFile(file)
				if err != nil {
					return err
				}
				body["tests"] = tests
			}
			var rep routetest.Report
			if err := c.do(ctx, "POST", "/tests/run", body, &rep); err != nil {
				return err
			}
			printReport(o.stdout, rep)
			if !rep.OK() {
				return exitStatus(1)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&gateway, "gateway", "", "gateway whose tests run (default: every gateway)")
	cmd.Flags().StringVarP(&file, "file", "f", "", "run the RouteTest documents of this YAML file (- for stdin) instead of the saved tests")
	cmd.Flags().BoolVar(&exportEnvoy, "export-envoy", false, "print the saved tests as an Envoy router_check_tool test file")
	cmd.Flags().StringVar(&importEnvoy, "import-envoy", "", "save the tests of an Envoy router_check_tool test file under --gateway")
	return cmd
}

// printReport prints one line per test, failures indented below their test,
// and a summary.
func printReport(w io.Writer, rep routetest.Report) {
	for _, r := range rep.Items {
		verdict := "PASS"
		if !r.Passed {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "%s %s (gateway %s)\n", verdict, r.Name, r.Gateway)
		for _, m := range r.Failures {
			if m.Field == "" {
				fmt.Fprintf(w, "    %s: %s\n", m.Engine, m.Actual)
				continue
			}
			fmt.Fprintf(w, "    %s: %s\n        expected: %s\n        actual:   %s\n", m.Engine, m.Field, m.Expected, m.Actual)
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed (%s)\n", rep.Passed, rep.Failed, strings.Join(rep.Engines, ", "))
}

// withFile prefixes the problems of a server error with the file they are in.
func withFile(name string, err error) error {
	var e *model.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	lines := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		lines[i] = fmt.Sprintf("%s: %s", name, f)
	}
	return errors.New(strings.Join(lines, "\n"))
}

// loadTestFile reads RouteTest documents (multi-document YAML, `kind:
// RouteTest` optional) from a file or, for "-", stdin. Every problem is
// reported as file:line: field: message, all of them at once.
func (o *options) loadTestFile(name string) ([]routetest.Test, error) {
	data, name, err := o.readInput(name)
	if err != nil {
		return nil, err
	}
	var tests []routetest.Test
	var problems []string
	docs, err := input.YAML(name, data)
	for _, doc := range docs {
		line := doc.Line
		if len(doc.Content) > 0 {
			line = doc.Content[0].Line
		}
		t, err := decodeTestDoc(doc)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s:%d: %v", name, line, err))
			continue
		}
		for _, f := range model.ErrorFields(t.Validate()) {
			problems = append(problems, fmt.Sprintf("%s:%d: %s", name, fieldLine(doc, f.Field, line), f))
		}
		tests = append(tests, t)
	}
	// A syntax error or a limit ends the stream, after what came before.
	if input.IsLimit(err) {
		problems = append(problems, err.Error())
	} else if err != nil {
		problems = append(problems, fmt.Sprintf("%s: %v", name, err))
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	if len(tests) == 0 {
		return nil, fmt.Errorf("%s: no RouteTest documents", name)
	}
	return tests, nil
}

func decodeTestDoc(doc *yamlv3.Node) (routetest.Test, error) {
	var t routetest.Test
	raw, err := yamlv3.Marshal(doc)
	if err != nil {
		return t, err
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return t, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(js, &fields); err != nil {
		return t, errors.New("a RouteTest document must be a mapping")
	}
	if kind, ok := fields["kind"]; ok {
		if string(kind) != `"RouteTest"` {
			return t, fmt.Errorf("kind: %s is not RouteTest", kind)
		}
		delete(fields, "kind")
	}
	js, _ = json.Marshal(fields)
	if err := strictjson.Decode(js, &t); err != nil {
		return t, errors.New(strings.TrimPrefix(err.Error(), "invalid input: "))
	}
	return t, nil
}

// fieldLine finds the line of a dotted field path ("expect.status") in a
// document, or returns def.
func fieldLine(doc *yamlv3.Node, path string, def int) int {
	n := doc
	if n.Kind == yamlv3.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := def
	for _, key := range strings.Split(path, ".") {
		found := false
		for i := 0; n.Kind == yamlv3.MappingNode && i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line, n, found = n.Content[i].Line, n.Content[i+1], true
				break
			}
		}
		if !found {
			break
		}
	}
	return line
}
