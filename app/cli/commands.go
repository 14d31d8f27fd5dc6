package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/backend/diff"
	"github.com/routedeck/routedeck/backend/manifest"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/translate"
)

// loadFile reads a manifest ("-" is stdin), parses its conditions and checks
// each object on its own. Every problem comes back as file:line.
func (o *options) loadFile(name string) (*manifest.File, error) {
	data, name, err := o.readInput(name)
	if err != nil {
		return nil, err
	}
	return loadManifest(name, data)
}

// loadManifest is loadFile for data already read.
func loadManifest(name string, data []byte) (*manifest.File, error) {
	f, loadErr := manifest.Load(name, data)
	if f == nil {
		return nil, loadErr
	}
	// Check the documents that decoded as well, so one run reports every
	// problem of the file.
	ws := &f.Workspace
	var p model.Problems
	p.Merge("", rules.ResolveWorkspace(ws))
	for i := range ws.Secrets {
		sec := &ws.Secrets[i]
		for _, fe := range model.ErrorFields(sec.Validate()) {
			// A key left out (or redacted, as `get` prints it) is the
			// server's to fill from the stored secret.
			if sec.KeepsStoredKey() && strings.HasPrefix(fe.Field, "tls.privateKey") {
				continue
			}
			p.Add(model.JoinPath(model.Index("secrets", i), fe.Field), "%s", fe.Message)
		}
	}
	for i := range ws.Gateways {
		p.Merge(model.Index("gateways", i), translate.Validate(&ws.Gateways[i]))
	}
	for i := range ws.Upstreams {
		p.Merge(model.Index("upstreams", i), translate.Validate(&ws.Upstreams[i]))
	}
	for i := range ws.Routes {
		if ws.Routes[i].When.Text == "" { // unparsed conditions were reported above
			p.Merge(model.Index("routes", i), translate.Validate(&ws.Routes[i]))
		}
	}
	if err := manifest.Merge(loadErr, f.Explain(p.Err())); err != nil {
		return f, err
	}
	if len(ws.Objects()) == 0 {
		return nil, fmt.Errorf("%s: %w", name, errNoDocuments)
	}
	return f, nil
}

// errNoDocuments is a file without objects.
var errNoDocuments = errors.New("no documents")

func isNoDocuments(err error) bool { return errors.Is(err, errNoDocuments) }

// joinProblems merges problem lines ("file:line: ...") with the lines of
// err, in line order, into one error (nil when there are none).
func joinProblems(lines []string, err error) error {
	if err != nil {
		lines = append(lines, strings.Split(err.Error(), "\n")...)
	}
	if len(lines) == 0 {
		return nil
	}
	slices.SortStableFunc(lines, func(a, b string) int { return cmp.Compare(lineNumber(a), lineNumber(b)) })
	return errors.New(strings.Join(lines, "\n"))
}

// lineNumber reads N from "file:N: ...", or 0.
func lineNumber(s string) int {
	_, rest, ok := strings.Cut(s, ":")
	if !ok {
		return 0
	}
	n, _, _ := strings.Cut(rest, ":")
	v, _ := strconv.Atoi(n)
	return v
}

// withServerProblems adds what the server finds in the documents that
// decoded (references to unknown gateways or upstreams, duplicates) to the
// file's own problems, so one run reports everything wrong with the file.
// It never stores anything: it uses the server's validate endpoint.
func withServerProblems(ctx context.Context, c *client, f *manifest.File, local error) error {
	if f == nil || len(f.Workspace.Objects()) == 0 {
		return local
	}
	var p model.Problems
	for _, fe := range model.ErrorFields(c.do(ctx, "POST", "/validate", f.Workspace, nil)) {
		// A reference to a document of this file that did not decode is
		// not news: that document's own problem is already reported.
		if m := unknownRef.FindStringSubmatch(fe.Message); m != nil && f.Declares(refKinds[m[1]], m[2]) {
			continue
		}
		p.Add(fe.Field, "%s", fe.Message)
	}
	return manifest.Merge(local, f.Explain(p.Err()))
}

// unknownRef matches model.Workspace.Validate's messages for references to
// objects that do not exist.
var (
	unknownRef = regexp.MustCompile(`^unknown (gateway|upstream|secret) "(.*)"$`)
	refKinds   = map[string]string{"gateway": model.KindGateway, "upstream": model.KindUpstream, "secret": model.KindSecret}
)

// applyWorkspace sends ws to the server's apply endpoint (all or nothing)
// and prints what happened to each object. Errors are the server's, for the
// caller to place (in a file, or under what was imported).
func (o *options) applyWorkspace(ctx context.Context, c *client, ws model.Workspace) error {
	var res applyResult
	if err := c.do(ctx, "POST", "/apply", ws, &res); err != nil {
		return err
	}
	for _, it := range res.Items {
		fmt.Fprintf(o.stdout, "%s/%s %s (version %d)\n", it.Kind, it.Name, it.Action, it.Version)
	}
	return nil
}

// applyResult mirrors the API's apply answer.
type applyResult struct {
	Items []struct {
		Kind    string `json:"kind"`
		Name    string `json:"name"`
		Action  string `json:"action"`
		Version int64  `json:"version"`
	} `json:"items"`
}

func newApplyCmd(o *options) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create or update the objects of a multi-document YAML file, all or nothing",
		Long: `apply sends every Gateway, Upstream, Route and Secret of FILE (- for stdin)
to the server, which stores all of them or, if anything is wrong, none.
RouteTest documents in the file are then created or updated one by one.
Problems are reported as FILE:LINE: field: message, all of them at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			data, name, err := o.readInput(file)
			if err != nil {
				return err
			}
			tests, rest, testProblems := testDocs(name, data)
			f, err := loadManifest(name, rest)
			if len(tests)+len(testProblems) > 0 && f == nil && isNoDocuments(err) {
				f, err = nil, nil // a file of tests alone
			} else if err != nil {
				err = withServerProblems(cmd.Context(), c, f, err)
			}
			if err := joinProblems(testProblems, err); err != nil {
				return err
			}
			if f != nil {
				if err := f.Explain(o.applyWorkspace(cmd.Context(), c, f.Workspace)); err != nil {
					return err
				}
			}
			return o.applyTests(cmd.Context(), c, name, tests)
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "file to apply (- for stdin)")
	return cmd
}

func newValidateCmd(o *options) *cobra.Command {
	var file string
	var offline, strict bool
	cmd := &cobra.Command{
		Use:   "validate -f FILE [--offline] [--strict]",
		Short: "Check a file as apply would, storing nothing; lint its rules too",
		Long: `validate checks FILE against the server's draft (references to objects that
exist there are fine). With --offline it needs no server and checks the file
on its own: every reference must point inside the file.

Every problem is reported in one pass, as FILE:LINE: field: message:
unknown fields, bad values and conditions, references to objects that do
not exist, RouteTest documents. Then the file's rules are linted (rules
that can never match, rewrites that double a slash, partial overlaps) and
the findings printed the same way. Lint findings do not fail validate
unless --strict; "routedeck lint" is the command for CI.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, name, err := o.readInput(file)
			if err != nil {
				return err
			}
			tests, rest, problems := testDocs(name, data)
			f, loadErr := loadManifest(name, rest)
			onlyTests := len(tests)+len(problems) > 0 && f == nil && isNoDocuments(loadErr)
			if onlyTests {
				loadErr = nil
			}
			problems = appendLines(problems, loadErr)
			if f != nil {
				var refErr error
				if offline {
					refErr = withoutUndecoded(f, f.Explain(f.Workspace.Validate()))
				} else {
					c, cerr := o.client()
					if cerr != nil {
						return cerr
					}
					refErr = withServerProblems(cmd.Context(), c, f, nil)
				}
				problems = appendLines(problems, refErr)
			}
			problems = dedupe(withoutUnparsed(problems))
			findings := lintLines(f)
			if len(problems) > 0 || strict && len(findings) > 0 {
				return joinProblems(append(problems, findings...), nil)
			}
			for _, l := range findings {
				fmt.Fprintln(o.stdout, l)
			}
			n := len(tests)
			if f != nil {
				n += len(f.Workspace.Objects())
			}
			fmt.Fprintf(o.stdout, "%s: %s valid\n", name, plural(n, "object", "objects"))
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "file to check (- for stdin)")
	cmd.Flags().BoolVar(&offline, "offline", false, "check the file alone, without a server")
	cmd.Flags().BoolVar(&strict, "strict", false, "fail on lint findings too")
	return cmd
}

// appendLines adds the lines of err's message to lines.
func appendLines(lines []string, err error) []string {
	if err == nil {
		return lines
	}
	return append(lines, strings.Split(err.Error(), "\n")...)
}

// dedupe drops repeated lines (the file's own checks and the workspace's
// can report the same problem), keeping the first.
func dedupe(lines []string) []string {
	seen := map[string]bool{}
	out := lines[:0]
	for _, l := range lines {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

// withoutUnparsed drops the workspace's "not parsed" line of a condition
// whose parse error is reported at the same place.
func withoutUnparsed(lines []string) []string {
	var out []string
	for _, l := range lines {
		if at, ok := strings.CutSuffix(l, " condition text not parsed"); ok && slices.ContainsFunc(lines, func(o string) bool {
			return o != l && strings.HasPrefix(o, at)
		}) {
			continue
		}
		out = append(out, l)
	}
	return out
}

// withoutUndecoded drops references to documents of f that did not decode:
// their own problems are reported already.
func withoutUndecoded(f *manifest.File, err error) error {
	if err == nil {
		return nil
	}
	var keep []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if m := unknownRefLine.FindStringSubmatch(l); m != nil && f.Declares(refKinds[m[1]], m[2]) {
			continue
		}
		keep = append(keep, l)
	}
	if len(keep) == 0 {
		return nil
	}
	return errors.New(strings.Join(keep, "\n"))
}

var unknownRefLine = regexp.MustCompile(`unknown (gateway|upstream|secret) "(.*)"$`)

// lintLines lints the rules of f and renders each finding as
// FILE:LINE: rule: severity: message, with its witness. Routes that
// decoded only in part are left out: a field left at its zero value (a
// when that is not what the file says) would give findings about rules
// the file does not have.
func lintLines(f *manifest.File) []string {
	if f == nil {
		return nil
	}
	index := map[string]int{}
	var whole []model.Route
	for i, r := range f.Workspace.Routes {
		index[r.Gateway+"\x00"+r.Name] = i
		if !f.Partial("routes", i) {
			whole = append(whole, r)
		}
	}
	var out []string
	for _, fd := range rules.LintAll(whole) {
		line, _ := f.Locate(model.JoinPath(model.Index("routes", index[fd.Gateway+"\x00"+fd.Rule]), "when"))
		sev := fd.Severity
		if sev == rules.SeverityInfo {
			sev = "note"
		}
		msg := fmt.Sprintf("%s:%d: rule %q: lint %s: %s", f.Name, line, fd.Rule, sev, fd.Message)
		if w := fd.Witness; w != nil && w.TakenBy != "" && fd.Kind == rules.FindingShadowed {
			msg += fmt.Sprintf(" (%s is taken by rule %q)", w, w.TakenBy)
		}
		if fd.Fix != nil {
			msg += fmt.Sprintf("; fix: set %s to %q", fd.Fix.Field, fd.Fix.Value)
		}
		out = append(out, msg)
	}
	return out
}

func newGetCmd(o *options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get KIND [NAME] [-o table|yaml|json]",
		Short: "Show gateways, upstreams, routes, secrets or route tests from the server",
		Long: `get lists objects of KIND (gateway, upstream, route, secret, routetest), or
shows one by NAME.
-o yaml prints the file format, ready for apply; -o json prints the API's JSON.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, coll, err := kindArg(args[0])
			if err != nil {
				return err
			}
			switch output {
			case "table", "yaml", "json":
			default:
				return fmt.Errorf("-o %q: use table, yaml or json", output)
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			if kind == kindRouteTest {
				name := ""
				if len(args) == 2 {
					name = args[1]
				}
				return o.getTests(cmd.Context(), c, name, output)
			}
			var views []json.RawMessage
			if len(args) == 2 {
				var raw []byte
				if err := c.do(cmd.Context(), "GET", "/"+coll+"/"+url.PathEscape(args[1]), nil, &raw); err != nil {
					return err
				}
				if output == "json" {
					_, err := o.stdout.Write(raw)
					return err
				}
				views = []json.RawMessage{raw}
			} else {
				if views, err = c.listAll(cmd.Context(), "/"+coll); err != nil {
					return err
				}
				if output == "json" {
					return writeJSONList(o.stdout, views)
				}
			}
			objs := make([]model.Object, 0, len(views))
			for _, v := range views {
				obj, err := objectFromView(kind, v)
				if err != nil {
					return err
				}
				objs = append(objs, obj)
			}
			if output == "yaml" {
				return writeYAMLDocs(o.stdout, objs)
			}
			tw := tabwriter.NewWriter(o.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, strings.Join(tableHeader(kind), "\t"))
			for _, obj := range objs {
				row := append([]string{obj.ObjectMeta().Name, fmt.Sprint(obj.ObjectMeta().Version)}, summary(obj)...)
				fmt.Fprintln(tw, strings.Join(row, "\t"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, yaml or json")
	return cmd
}

func newDeleteCmd(o *options) *cobra.Command {
	var version int64
	cmd := &cobra.Command{
		Use:   "delete KIND NAME",
		Short: "Delete an object from the draft",
		Long: `delete removes a gateway, upstream, route, secret or route test (routetest).
With --version the server refuses
if the object changed since you read it; objects still referenced cannot be
deleted.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, coll, err := kindArg(args[0])
			if err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			path := "/" + coll + "/" + url.PathEscape(args[1])
			if version > 0 {
				path += fmt.Sprintf("?version=%d", version)
			}
			if err := c.do(cmd.Context(), "DELETE", path, nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(o.stdout, "%s/%s deleted\n", kind, args[1])
			return nil
		},
	}
	cmd.Flags().Int64Var(&version, "version", 0, "only delete this version (0: any)")
	return cmd
}

func newDiffCmd(o *options) *cobra.Command {
	var file string
	var revision int64
	cmd := &cobra.Command{
		Use:   "diff (-f FILE | --revision ID)",
		Short: "Show what applying a file would change, or what a revision changed",
		Long: `diff -f FILE prints a unified diff between the server's draft and each object
of FILE (new objects diff against nothing). diff --revision ID prints the diff
recorded with that revision.

Passwords, API keys and private keys are never printed: the server's read as
fingerprints (fp:...), and a value the file holds in clear reads as
"` + fileSecret + `", a change even if it equals the stored value.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			if revision > 0 {
				var rev struct {
					Diff string `json:"diff"`
				}
				if err := c.do(cmd.Context(), "GET", fmt.Sprintf("/revisions/%d/diff?format=json", revision), nil, &rev); err != nil {
					return err
				}
				_, err := io.WriteString(o.stdout, rev.Diff)
				return err
			}
			if file == "" {
				return fmt.Errorf("give -f FILE or --revision ID")
			}
			f, err := o.loadFile(file)
			if err != nil {
				return err
			}
			return diffFile(cmd.Context(), c, f, o.stdout)
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "file to compare with the server's draft")
	cmd.Flags().Int64Var(&revision, "revision", 0, "revision whose diff to print")
	return cmd
}

func diffFile(ctx context.Context, c *client, f *manifest.File, w io.Writer) error {
	for _, obj := range f.Workspace.Objects() {
		_, coll, _ := kindArg(obj.Kind())
		name := obj.ObjectMeta().Name
		var raw []byte
		var cur model.Object
		before := ""
		err := c.do(ctx, "GET", "/"+coll+"/"+url.PathEscape(name), nil, &raw)
		switch {
		case model.ErrorCode(err) == model.ENOTFOUND:
		case err != nil:
			return err
		default:
			if cur, err = objectFromView(obj.Kind(), raw); err != nil {
				return err
			}
			b, err := manifestYAML(cur)
			if err != nil {
				return err
			}
			before = string(b)
		}
		after, err := manifestYAML(shownFromFile(obj, cur))
		if err != nil {
			return err
		}
		label := obj.Kind() + "/" + name
		d, err := diff.Unified("server/"+label, f.Name+"/"+label, before, string(after), 3)
		if err != nil {
			// Too large to diff: say that it changed, as revisions do.
			d = fmt.Sprintf("%s changed, %v\n", label, err)
		}
		if _, err := io.WriteString(w, d); err != nil {
			return err
		}
	}
	return nil
}

// fileSecret stands in, on the file's side of a diff, for a secret value
// the file holds in clear: only the server can fingerprint it, and the
// value itself stays off the terminal. It reads as a change even when the
// value equals the stored one, which the client cannot know.
const fileSecret = "<in the file, not shown>"

// shownFromFile is obj of a file as diff shows it next to cur, the
// server's view (nil when the server has none): clear secret values read
// as fileSecret, fingerprints as they are, and a private key the file
// leaves out or redacts as the server's, which apply keeps.
func shownFromFile(obj, cur model.Object) model.Object {
	shown := model.Redact(obj, model.FingerprintFunc(func(string) string { return fileSecret }))
	sec, ok := shown.(*model.Secret)
	stored, _ := cur.(*model.Secret)
	if !ok || sec.TLS == nil || stored == nil || stored.TLS == nil ||
		(sec.TLS.PrivateKey != "" && sec.TLS.PrivateKey != model.RedactedPrivateKey) {
		return shown
	}
	c, t := *sec, *sec.TLS
	t.PrivateKey = stored.TLS.PrivateKey
	c.TLS = &t
	return &c
}

func newPublishCmd(o *options) *cobra.Command {
	var gateway string
	var force bool
	cmd := &cobra.Command{
		Use:   "publish --gateway G",
		Short: "Publish a gateway's draft to its Envoys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			version, unchanged, err := o.publishAction(cmd.Context(), gateway, "publish", map[string]bool{"force": force})
			if err != nil {
				return err
			}
			if unchanged {
				fmt.Fprintf(o.stdout, "gateway %s unchanged: the draft equals the live version %d, nothing published\n", gateway, version)
				return nil
			}
			fmt.Fprintf(o.stdout, "gateway %s published as version %d\n", gateway, version)
			return nil
		},
	}
	cmd.Flags().StringVar(&gateway, "gateway", "", "gateway to publish")
	cmd.Flags().BoolVar(&force, "force", false, "publish even if route tests fail (admin)")
	_ = cmd.MarkFlagRequired("gateway")
	return cmd
}

func newRollbackCmd(o *options) *cobra.Command {
	var gateway string
	var to int64
	cmd := &cobra.Command{
		Use:   "rollback --gateway G --to VERSION",
		Short: "Publish an earlier version of a gateway again",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			version, _, err := o.publishAction(cmd.Context(), gateway, "rollback", map[string]int64{"version": to})
			if err != nil {
				return err
			}
			fmt.Fprintf(o.stdout, "gateway %s rolled back to version %d, published as version %d\n", gateway, to, version)
			return nil
		},
	}
	cmd.Flags().StringVar(&gateway, "gateway", "", "gateway to roll back")
	cmd.Flags().Int64Var(&to, "to", 0, "published version to return to")
	_ = cmd.MarkFlagRequired("gateway")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// publishAction posts body to the gateway's publish or rollback endpoint;
// both answer with the version that is live, and a publish says whether
// the draft already equalled it.
func (o *options) publishAction(ctx context.Context, gateway, action string, body any) (version int64, unchanged bool, err error) {
	c, err := o.client()
	if err != nil {
		return 0, false, err
	}
	var res struct {
		Version   int64 `json:"version"`
		Unchanged bool  `json:"unchanged"`
		Warnings  []struct {
			Rule    string `json:"rule"`
			Message string `json:"message"`
		} `json:"warnings"`
	}
	if err := c.do(ctx, "POST", "/gateways/"+url.PathEscape(gateway)+"/"+action, body, &res); err != nil {
		return 0, false, err
	}
	// Lint findings do not stop a publish, but an operator should see them.
	for _, w := range res.Warnings {
		fmt.Fprintf(o.stderr, "routedeck: warning: rule %s %s\n", w.Rule, w.Message)
	}
	return res.Version, res.Unchanged, nil
}
