package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/backend/rules"
)

// severityRank orders severities for --fail-on.
var severityRank = map[string]int{rules.SeverityInfo: 1, rules.SeverityWarning: 2, rules.SeverityError: 3, "never": 4}

func newLintCmd(o *options) *cobra.Command {
	var gateway, file, output, failOn string
	cmd := &cobra.Command{
		Use:   "lint [--gateway G] [-f FILE] [-o text|json] [--fail-on error|warning|info|never]",
		Short: "Find rules that never match, partial overlaps and rewrites that mangle paths (exit 1 for CI)",
		Long: `lint checks the draft of --gateway (or of every gateway) on the server, or the
routes of -f FILE without a server, and prints each finding with a request
that shows it ("GET http://shop.example.com/x is taken by rule \"a\" before
it reaches \"b\""), checked with the evaluator:

  error    the rule can never match: an earlier rule takes every request
  warning  a prefix rewrite doubles or drops the slash after the prefix
           (with the value that fixes it)
  info     an earlier rule takes part of the rule's requests, or a rate
           limit counts once per Envoy route the rule became

The exit status is 1 when a finding is at least as severe as --fail-on
(default error), so a CI job fails on rules that cannot match.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, ok := severityRank[failOn]; !ok {
				return fmt.Errorf("--fail-on %q: use error, warning, info or never", failOn)
			}
			if output != "text" && output != "json" {
				return fmt.Errorf("-o %q: use text or json", output)
			}
			var findings []rules.Finding
			if file != "" {
				f, err := o.loadFile(file)
				if err != nil {
					return err
				}
				for _, fd := range rules.LintAll(f.Workspace.Routes) {
					if gateway == "" || fd.Gateway == gateway {
						findings = append(findings, fd)
					}
				}
			} else {
				c, err := o.client()
				if err != nil {
					return err
				}
				gateways := []string{gateway}
				if gateway == "" {
					views, err := c.listAll(cmd.Context(), "/gateways")
					if err != nil {
						return err
					}
					gateways = gateways[:0]
					for _, v := range views {
						var gw struct{ Name string }
						if err := json.Unmarshal(v, &gw); err != nil {
							return fmt.Errorf("decode gateway: %w", err)
						}
						gateways = append(gateways, gw.Name)
					}
				}
				for _, g := range gateways {
					var rep struct {
						Items []rules.Finding `json:"items"`
						Notes []rules.Finding `json:"notes"`
					}
					if err := c.do(cmd.Context(), "GET", "/gateways/"+url.PathEscape(g)+"/lint", nil, &rep); err != nil {
						return fmt.Errorf("lint gateway %q: %w", g, err)
					}
					for _, n := range rep.Notes {
						n.Severity = rules.SeverityInfo
						rep.Items = append(rep.Items, n)
					}
					for i := range rep.Items {
						rep.Items[i].Gateway = g
					}
					findings = append(findings, rep.Items...)
				}
			}
			if findings == nil {
				findings = []rules.Finding{}
			}
			if output == "json" {
				enc := json.NewEncoder(o.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"items": findings}); err != nil {
					return err
				}
			} else {
				printFindings(o, findings)
			}
			if slices.ContainsFunc(findings, func(f rules.Finding) bool { return severityRank[f.Severity] >= severityRank[failOn] }) {
				return exitStatus(1)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&gateway, "gateway", "", "gateway to lint (default: every gateway)")
	cmd.Flags().StringVarP(&file, "file", "f", "", "lint the routes of this file (- for stdin) instead of a server's drafts")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&failOn, "fail-on", rules.SeverityError, "exit 1 on a finding of this severity or worse: error, warning, info or never")
	return cmd
}

// printFindings writes one line per finding, its witness and fix indented
// below it, and a count of each severity.
func printFindings(o *options, findings []rules.Finding) {
	count := map[string]int{}
	for _, f := range findings {
		count[f.Severity]++
		sev := f.Severity
		if sev == rules.SeverityInfo {
			sev = "note"
		}
		fmt.Fprintf(o.stdout, "%s: rule %q: %s: %s\n", f.Gateway, f.Rule, sev, f.Message)
		if w := f.Witness; w != nil && w.TakenBy != "" && f.Kind == rules.FindingShadowed {
			fmt.Fprintf(o.stdout, "    %s is taken by rule %q before it reaches %q\n", w, w.TakenBy, f.Rule)
		}
		if f.Fix != nil {
			fmt.Fprintf(o.stdout, "    fix: set %s to %q: %s\n", f.Fix.Field, f.Fix.Value, f.Fix.Message)
		}
	}
	fmt.Fprintf(o.stdout, "%s, %s, %s\n", plural(count[rules.SeverityError], "error", "errors"),
		plural(count[rules.SeverityWarning], "warning", "warnings"), plural(count[rules.SeverityInfo], "note", "notes"))
}
