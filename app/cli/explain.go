package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/ruleset"
)

// explainOptions are the flags of `routedeck explain`.
type explainOptions struct {
	gateway, version, output string
	headers                  []string
	entry                    int64
	trace, sandbox           bool
}

// explanation is the part of the API's explanation the text output shows
// (POST /gateways/{name}/explain, GET .../logs/{id}/explain).
type explanation struct {
	Rule        *string           `json:"rule"`
	Version     string            `json:"version"`
	Action      *model.Action     `json:"action"`
	Upstream    string            `json:"upstream"`
	Path        string            `json:"path"`
	Host        string            `json:"host"`
	RedirectURL string            `json:"redirectUrl"`
	Status      int               `json:"status"`
	Winner      *rules.RuleTrace  `json:"winner"`
	Tried       int               `json:"tried"`
	Before      []rules.RuleBrief `json:"before"`
	NearMisses  []rules.RuleTrace `json:"nearMisses"`
	Trace       []rules.RuleTrace `json:"trace"`
	TraceNext   string            `json:"traceNext"`
	// Only for a logged request.
	Entry  *accesslog.Entry `json:"entry"`
	Agrees *bool            `json:"agrees"`
	Notes  []string         `json:"notes"`
}

func newExplainCmd(o *options) *cobra.Command {
	var eo explainOptions
	cmd := &cobra.Command{
		Use:   "explain --gateway G [--version live|vN|draft] [METHOD] URL [-H 'name: value' ...] | explain --gateway G --entry ID",
		Short: "Show which rule of a gateway version takes a request, and why",
		Long: `explain runs the reference evaluator over one version of a gateway's rules —
live (the newest published version, the default), a published version such as
v3, or the draft — and prints the rule that takes the request with each of its
conditions, the effect, the rules tried before it, and the near misses: rules
that failed only one of their conditions. For a request no rule takes (a 404)
the near misses say why. Nothing is sent to any proxy.

URL is absolute (http://shop.example.com/cart?x=1) or a request target (/cart);
a Host header given with -H overrides its host. METHOD defaults to GET.

--entry explains a request from the gateway's request log (see routedeck logs
-o json for ids) against the version that served it; --sandbox takes the id
from the sandbox's log. --trace prints every rule tried, in order, with every
condition. -o json prints the API's answer.`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p model.Problems
			if eo.gateway == "" {
				p.Add("--gateway", "required")
			}
			if eo.output != "text" && eo.output != "json" {
				p.Add("-o", "%q: use text or json", eo.output)
			}
			var req rules.Request
			if eo.entry != 0 {
				if len(args) > 0 || len(eo.headers) > 0 || cmd.Flags().Changed("version") {
					p.Add("--entry", "explains a logged request against the version that served it: give no URL, -H or --version with it")
				}
				if eo.entry < 0 {
					p.Add("--entry", "want an entry id")
				}
			} else {
				if eo.sandbox {
					p.Add("--sandbox", "only with --entry")
				}
				if _, err := ruleset.ParseVersion(eo.version); err != nil {
					p.Add("--version", "%v", err)
				}
				req = eo.request(&p, args)
			}
			if err := p.Err(); err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			gw := "/gateways/" + url.PathEscape(eo.gateway)
			first := url.Values{}
			if eo.trace {
				first.Set("trace", "full")
				first.Set("limit", "500")
			}
			ask := func(q url.Values, out any) error {
				if eo.entry != 0 {
					if eo.sandbox {
						q.Set("sandbox", "true")
					}
					return c.do(cmd.Context(), "GET", gw+"/logs/"+strconv.FormatInt(eo.entry, 10)+"/explain?"+q.Encode(), nil, out)
				}
				return c.do(cmd.Context(), "POST", gw+"/explain?"+q.Encode(), map[string]any{"version": eo.version, "request": req}, out)
			}
			if eo.output == "json" {
				var raw json.RawMessage
				if err := ask(first, &raw); err != nil {
					return err
				}
				_, err := fmt.Fprintf(o.stdout, "%s\n", strings.TrimSpace(string(raw)))
				return err
			}
			var ex explanation
			if err := ask(first, &ex); err != nil {
				return err
			}
			// The full trace comes in pages; the text shows all of it.
			for next := ex.TraceNext; eo.trace && next != ""; {
				var page explanation
				if err := ask(url.Values{"cursor": {next}, "limit": {"500"}}, &page); err != nil {
					return err
				}
				ex.Trace = append(ex.Trace, page.Trace...)
				next = page.TraceNext
			}
			return printExplanation(o.stdout, eo.gateway, req, ex, eo.trace)
		},
	}
	f := cmd.Flags()
	f.StringVar(&eo.gateway, "gateway", "", "gateway whose rules to ask (required)")
	f.StringVar(&eo.version, "version", "live", "live, draft or a published version such as v3")
	f.StringArrayVarP(&eo.headers, "header", "H", nil, "request header 'name: value' (repeatable)")
	f.Int64Var(&eo.entry, "entry", 0, "explain this request of the request log instead")
	f.BoolVar(&eo.sandbox, "sandbox", false, "with --entry: an entry of the sandbox's request log")
	f.BoolVar(&eo.trace, "trace", false, "print every rule tried, with every condition")
	f.StringVarP(&eo.output, "output", "o", "text", "output format: text or json")
	return cmd
}

// request builds the request to explain from the arguments and -H flags.
func (eo *explainOptions) request(p *model.Problems, args []string) rules.Request {
	var req rules.Request
	switch len(args) {
	case 0:
		p.Add("URL", "required: an absolute URL or a request target such as /cart?x=1")
		return req
	case 1:
		req.URL = args[0]
	default:
		req.Method, req.URL = strings.ToUpper(args[0]), args[1]
	}
	for i, h := range eo.headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			p.Add(model.Index("-H", i), "%q: want 'name: value'", h)
			continue
		}
		if req.Headers == nil {
			req.Headers = http.Header{}
		}
		// As curl sends it: the name as given, the value without the
		// blanks around it.
		req.Headers[name] = append(req.Headers[name], strings.Trim(value, " \t"))
	}
	// The server checks the same, but naming the flags is clearer.
	var vp model.Problems
	vp.Merge("", req.Validate())
	if err := vp.Err(); err != nil {
		var me *model.Error
		if errors.As(err, &me) {
			for _, fe := range me.Fields {
				p.Add(cliField(fe.Field), "%s", fe.Message)
			}
		}
	}
	return req
}

// cliField names a request field by the argument or flag that set it.
func cliField(f string) string {
	switch {
	case f == "method":
		return "METHOD"
	case f == "url":
		return "URL"
	case strings.HasPrefix(f, "headers"):
		return "-H"
	}
	return f
}

// printExplanation writes an explanation the way the dashboard's trace
// shows it: conditions marked true or false, the winner, the near misses.
func printExplanation(w io.Writer, gateway string, req rules.Request, ex explanation, full bool) error {
	pw := &errWriter{w: w}
	if ex.Entry != nil {
		e := ex.Entry
		pw.printf("Request %d: %s %s%s → %d", e.ID, e.Method, clipCol(e.Host, 256), clipCol(e.Path, 2048), e.Status)
		if e.OriginalPath != "" {
			pw.printf(" (path before rewrite %s)", clipCol(e.OriginalPath, 2048))
		}
		served := e.Rule
		if served == "" {
			served = "no rule"
		}
		pw.printf("\nServed by %s with version %q; explained against %s of gateway %s.\n", clipCol(served, 256), clipCol(e.Version, 64), ex.Version, gateway)
	} else {
		method := req.Method
		if method == "" {
			method = "GET"
		}
		pw.printf("%s %s against %s of gateway %s\n", method, clipCol(req.URL, 2048), ex.Version, gateway)
	}
	for _, n := range ex.Notes {
		pw.printf("Note: %s\n", n)
	}
	if ex.Agrees != nil && !*ex.Agrees {
		pw.printf("The evaluator disagrees with the proxy (see the note above).\n")
	}
	pw.printf("\n")
	if ex.Rule == nil {
		pw.printf("No rule matched (%d tried): the gateway's default response answers.\n", ex.Tried)
	} else {
		pw.printf("Rule %s matched", *ex.Rule)
		if ex.Tried > 0 {
			pw.printf(" after %d rule(s) that did not", ex.Tried)
		}
		pw.printf(".\n")
		if ex.Winner != nil {
			printRuleTrace(pw, *ex.Winner, "  ")
		}
		pw.printf("  ⇒ %s\n", effect(ex))
	}
	if len(ex.NearMisses) > 0 {
		pw.printf("\nNear misses (everything held but one condition):\n")
		for _, t := range ex.NearMisses {
			printRuleTrace(pw, t, "  ")
		}
	}
	if !full && len(ex.Before) > 0 {
		pw.printf("\nTried before:\n")
		for _, b := range ex.Before {
			why := "failed " + b.FirstFailing
			if b.Skipped != "" {
				why = "skipped: " + b.Skipped
			}
			pw.printf("  %-24s priority %-4d %s\n", b.Rule, b.Priority, why)
		}
		if ex.Tried > len(ex.Before) {
			pw.printf("  … and %d more (--trace shows all)\n", ex.Tried-len(ex.Before))
		}
	}
	if full {
		pw.printf("\nTrace (%s, in evaluation order):\n", plural(len(ex.Trace), "rule", "rules"))
		for _, t := range ex.Trace {
			printRuleTrace(pw, t, "  ")
		}
	}
	return pw.err
}

func printRuleTrace(pw *errWriter, t rules.RuleTrace, indent string) {
	state := "no match"
	switch {
	case t.Skipped != "":
		state = "skipped: " + t.Skipped
	case t.Matched:
		state = "match"
	}
	pw.printf("%s%s (priority %d): %s\n", indent, t.Rule, t.Priority, state)
	if len(t.Conditions) == 0 && t.Skipped == "" {
		pw.printf("%s  (no condition: matches every request)\n", indent)
	}
	for _, c := range t.Conditions {
		mark := "✗"
		if c.Result {
			mark = "✓"
		}
		pw.printf("%s  %s%s %s", indent, strings.Repeat("  ", max(c.Depth, 0)), mark, c.Expr)
		if c.Error != "" {
			pw.printf(" — %s", c.Error)
		}
		pw.printf("\n")
	}
}

// effect says in a line what the matched rule does with the request.
func effect(ex explanation) string {
	switch {
	case ex.RedirectURL != "":
		return fmt.Sprintf("redirect %d to %s", ex.Status, ex.RedirectURL)
	case ex.Action != nil && ex.Action.Respond != nil:
		return fmt.Sprintf("respond %d", ex.Status)
	case ex.Upstream != "":
		return fmt.Sprintf("forward to %s as %s %s", ex.Upstream, ex.Host, ex.Path)
	case ex.Action != nil:
		return actionSummary(*ex.Action)
	}
	return "—"
}

// errWriter keeps the first write error, so a long printout checks once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
