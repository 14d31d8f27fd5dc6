package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replay"
)

// replayOptions are the flags of `routedeck replay`.
type replayOptions struct {
	gateway, since, har, log, format, from, to, output string
	tests, failOnChange, evaluatorOnly                 bool
	examples                                           int
}

func newReplayCmd(o *options) *cobra.Command {
	var ro replayOptions
	cmd := &cobra.Command{
		Use:   "replay --gateway G [--since 24h | --har FILE | --log FILE [--format envoy|json] | --tests] [--from live|vN] [--to draft|vN] [--fail-on-change] [-o json]",
		Short: "Show which requests a change would route differently (exit 1 with --fail-on-change when any would)",
		Long: `replay runs requests against two versions of a gateway, live (the latest
published version) and the draft unless --from and --to name others (live,
draft, or a published version such as v3), and prints which requests would be
decided by another rule, reach other upstreams, be answered 404 or
redirected, or reach their upstream with another path, host or headers,
grouped by the rule before and after, with examples. Weighted splits are
compared as distributions.

The requests come from one source: the gateway's captured requests of a
window before now (--since 24h), a HAR file as browsers save it (--har), an
access-log file (--log) in Envoy's default text format or as JSON lines
(--format; detected when left out), or the gateway's saved route tests
(--tests). FILE may be - for standard input.

Each request runs through the reference evaluator and the simulated Envoy
with each version's translated configuration; a request on which the two
disagree is reported as a fidelity alarm.

--fail-on-change exits 1 when any request would change, for CI.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, name, err := ro.request(o)
			if err != nil {
				return err
			}
			if ro.output != "table" && ro.output != "json" {
				return fmt.Errorf("-o %q: use table or json", ro.output)
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			var rep replay.Report
			if err := c.do(cmd.Context(), "POST", "/gateways/"+url.PathEscape(ro.gateway)+"/replay", req, &rep); err != nil {
				return sourceErr(name, err)
			}
			if ro.output == "json" {
				out, err := json.MarshalIndent(rep, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintln(o.stdout, string(out))
			} else {
				printReplay(o.stdout, rep, name)
			}
			if rep.Fidelity.Requests > 0 && ro.output == "json" {
				fmt.Fprintf(o.stderr, "routedeck: the evaluator and the simulated Envoy disagree on %s (see fidelity)\n", plural(rep.Fidelity.Requests, "request", "requests"))
			}
			if ro.failOnChange && rep.Changed > 0 {
				return exitStatus(1)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ro.gateway, "gateway", "", "gateway to replay (required)")
	f.StringVar(&ro.since, "since", "", "replay the gateway's captured requests of this window before now, such as 24h")
	f.StringVar(&ro.har, "har", "", "replay the requests of a HAR file (- for stdin)")
	f.StringVar(&ro.log, "log", "", "replay the requests of an access-log file (- for stdin)")
	f.StringVar(&ro.format, "format", "", "format of --log: envoy (Envoy's default text format) or json (one object a line); detected when left out")
	f.BoolVar(&ro.tests, "tests", false, "replay the requests of the gateway's saved route tests")
	f.StringVar(&ro.from, "from", "live", "version compared from: live, draft or vN")
	f.StringVar(&ro.to, "to", "draft", "version compared to: live, draft or vN")
	f.IntVar(&ro.examples, "examples", 0, "example requests per group (default 3, at most 20)")
	f.BoolVar(&ro.evaluatorOnly, "evaluator-only", false, "run the reference evaluator alone (faster; no simulated Envoy, no fidelity check)")
	f.BoolVar(&ro.failOnChange, "fail-on-change", false, "exit 1 when any request would change")
	f.StringVarP(&ro.output, "output", "o", "table", "output: table or json")
	return cmd
}

// request builds the API request from the flags, reading a file source;
// name is the file's name ("" for other sources), for problems.
func (ro *replayOptions) request(o *options) (replay.Request, string, error) {
	var p model.Problems
	if ro.gateway == "" {
		p.Add("--gateway", "required")
	}
	n := 0
	for _, set := range []bool{ro.since != "", ro.har != "", ro.log != "", ro.tests} {
		if set {
			n++
		}
	}
	if n != 1 {
		p.Add("source", "give one of --since, --har, --log and --tests")
	}
	if ro.format != "" && ro.log == "" {
		p.Add("--format", "only with --log")
	}
	if err := p.Err(); err != nil {
		return replay.Request{}, "", flagErr(err)
	}
	req := replay.Request{From: ro.from, To: ro.to, Examples: ro.examples, EvaluatorOnly: ro.evaluatorOnly,
		Source: replay.Source{Since: ro.since, Format: ro.format, Tests: ro.tests}}
	name := ro.har + ro.log
	if name != "" {
		data, err := readUpload(o, name)
		if err != nil {
			return replay.Request{}, "", err
		}
		if ro.har != "" {
			req.Source.HAR = string(data)
		} else {
			req.Source.Log = string(data)
		}
		if strings.TrimSpace(string(data)) == "" {
			return replay.Request{}, "", fmt.Errorf("%s: empty file: no request to replay", name)
		}
	}
	if err := req.Validate(); err != nil {
		return replay.Request{}, "", flagErr(err)
	}
	return req, name, nil
}

// readUpload reads a file to replay (- is stdin), at most
// replay.MaxUploadBytes.
func readUpload(o *options, name string) ([]byte, error) {
	var r io.Reader = o.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, replay.MaxUploadBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > replay.MaxUploadBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB, the most a replay reads: replay part of it", name, replay.MaxUploadBytes>>20)
	}
	return data, nil
}

// flagErr words a request's problems in terms of the command's flags.
func flagErr(err error) error {
	fields := model.ErrorFields(err)
	if len(fields) == 0 {
		return err
	}
	flag := map[string]string{"source": "source", "source.since": "--since", "source.format": "--format", "source.har": "--har",
		"source.log": "--log", "from": "--from", "to": "--to", "examples": "--examples"}
	lines := make([]string, len(fields))
	for i, f := range fields {
		name := f.Field
		if fl, ok := flag[name]; ok {
			name = fl
		}
		lines[i] = name + ": " + f.Message
	}
	return errors.New(strings.Join(lines, "\n"))
}

// sourceErr words the problems of a file the server refused as
// "FILE:LINE: problem" (or "FILE: path: problem" for a HAR file).
func sourceErr(name string, err error) error {
	var e *model.Error
	if name == "" || !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	lines := make([]string, 0, len(e.Fields)+1)
	for _, f := range e.Fields {
		msg := f.Message
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			if n, tail, ok := strings.Cut(rest, ": "); ok {
				if _, err := strconv.Atoi(n); err == nil {
					lines = append(lines, name+":"+n+": "+tail)
					continue
				}
			}
		}
		lines = append(lines, name+": "+msg)
	}
	lines = append(lines, e.Message)
	return errors.New(strings.Join(lines, "\n"))
}

// printReplay prints a report for people.
func printReplay(w io.Writer, rep replay.Report, file string) {
	src := rep.Source.Kind
	switch rep.Source.Kind {
	case replay.SourceCaptured:
		src = "captured requests"
		if rep.Source.Since != nil {
			src += " since " + rep.Source.Since.UTC().Format("2006-01-02 15:04:05Z")
		}
	case replay.SourceHAR:
		src = "HAR file " + file
	case replay.SourceLog:
		src = fmt.Sprintf("access log %s (%s format)", file, rep.Source.Format)
	case replay.SourceTests:
		src = "route tests"
	}
	fmt.Fprintf(w, "gateway %s: %s -> %s, %s from %s, through %s\n", rep.Gateway, showVersion(rep.From), showVersion(rep.To),
		plural(rep.Source.Read, "request", "requests"), src, strings.Join(rep.Engines, " and "))
	for _, reason := range slices.Sorted(maps.Keys(rep.Source.Skipped)) {
		fmt.Fprintf(w, "  skipped %d: %s\n", rep.Source.Skipped[reason], reason)
	}
	if rep.Source.Truncated {
		fmt.Fprintf(w, "  only the first %d requests were replayed\n", rep.Total)
	}
	for _, n := range rep.Source.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	fmt.Fprintln(w, rep.Summary)
	var classes []string
	for _, c := range replay.Classes {
		if n := rep.Classes[c]; n > 0 {
			classes = append(classes, fmt.Sprintf("%s %d", c, n))
		}
	}
	if len(classes) > 0 {
		fmt.Fprintf(w, "  %s\n", strings.Join(classes, ", "))
	}
	for _, g := range rep.Groups {
		fmt.Fprintf(w, "\n%s -> %s: %d of %s changed (%s)\n", showRule(g.RuleBefore), showRule(g.RuleAfter), g.Changed,
			plural(g.Requests, "request", "requests"), classCounts(g.Classes))
		for _, ex := range g.Examples {
			fmt.Fprintf(w, "  %s %s (%s)\n", ex.Request.Method, ex.Request.URL, ex.Request.Origin)
			fmt.Fprintf(w, "    before: %s\n", describeOutcome(ex.Before))
			fmt.Fprintf(w, "    after:  %s\n", describeOutcome(ex.After))
		}
	}
	if rep.GroupsOmitted > 0 {
		fmt.Fprintf(w, "\n(%d more groups of rules not shown; -o json lists the first %d)\n", rep.GroupsOmitted, replay.MaxGroups)
	}
	first := true
	for _, s := range rep.Splits {
		if !s.Changed {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nweighted splits (expected requests per upstream):")
			first = false
		}
		fmt.Fprintf(w, "  %s -> %s, %s: %s -> %s\n", showRule(s.RuleBefore), showRule(s.RuleAfter), plural(s.Requests, "request", "requests"),
			showShares(s.Before), showShares(s.After))
	}
	if rep.Fidelity.Requests > 0 {
		fmt.Fprintf(w, "\nFIDELITY ALARM: the evaluator and the simulated Envoy disagree on %s; the translation or the simulator is wrong there:\n",
			plural(rep.Fidelity.Requests, "request", "requests"))
		for _, a := range rep.Fidelity.Alarms {
			fmt.Fprintf(w, "  %s %s (%s), %s %s: %s: evaluator %s, simulated Envoy %s\n", a.Request.Method, a.Request.URL, a.Request.Origin,
				a.Side, a.Version, a.Field, a.Evaluator, a.Sim)
		}
	}
}

func showVersion(v replay.Version) string {
	if v.Ref == replay.Live {
		return fmt.Sprintf("live (v%d)", v.Version)
	}
	return v.Ref
}

func showRule(r string) string {
	if r == "" {
		return "(no rule)"
	}
	return r
}

func classCounts(m map[string]int) string {
	var parts []string
	for _, c := range replay.Classes {
		if n := m[c]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c, n))
		}
	}
	return strings.Join(parts, ", ")
}

func showShares(ss []replay.Share) string {
	if len(ss) == 0 {
		return "(no upstream)"
	}
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = fmt.Sprintf("%s %s (%g%%)", s.Upstream, strconv.FormatFloat(s.Requests, 'f', -1, 64), s.Percent)
	}
	return strings.Join(parts, ", ")
}

// describeOutcome says in one line what a version does with a request.
func describeOutcome(o replay.Outcome) string {
	var b strings.Builder
	b.WriteString(showRule(o.Rule))
	b.WriteString(": ")
	switch {
	case len(o.Forward) > 0:
		for i, t := range o.Forward {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(t.Upstream)
			if len(o.Forward) > 1 {
				fmt.Fprintf(&b, " %g%%", t.Share*100)
			}
			fmt.Fprintf(&b, " gets %s host %s", t.Path, t.Host)
			if e := showEdits(t.RequestHeaders); e != "" {
				b.WriteString(", request headers " + e)
			}
			if e := showEdits(t.ResponseHeaders); e != "" {
				b.WriteString(", response headers " + e)
			}
		}
		return b.String()
	case o.Redirect != "":
		fmt.Fprintf(&b, "%d redirect to %s", o.Status, o.Redirect)
	default:
		fmt.Fprintf(&b, "%d", o.Status)
		if o.Body != "" {
			fmt.Fprintf(&b, " %q", o.Body)
		}
	}
	if e := showEdits(o.ResponseHeaders); e != "" {
		b.WriteString(", response headers " + e)
	}
	return b.String()
}

func showEdits(e replay.HeaderEdits) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(e.Set)) {
		parts = append(parts, k+"="+strconv.Quote(e.Set[k]))
	}
	for _, k := range e.Removed {
		parts = append(parts, "-"+k)
	}
	return strings.Join(parts, " ")
}
