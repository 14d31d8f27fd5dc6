// Package replay is the contract of a replay: which requests to run
// (captured traffic of a gateway, a HAR file, an access-log file, the saved
// route tests), the two versions of the gateway to run them against (live,
// a published version, or the draft), and the report of what would change.
// The JSON shapes are part of the HTTP API (POST /gateways/{name}/replay).
//
// The engine that runs a replay (the reference evaluator and the simulated
// Envoy) lives in sandbox/replay; this package holds only the types and
// the validation of a request, so the API and the publish screen can use
// them without the sandbox.
package replay

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/routedeck/routedeck/backend/model"
)

// Source kinds, as Report.Source.Kind names them.
const (
	SourceCaptured = "captured"
	SourceHAR      = "har"
	SourceLog      = "log"
	SourceTests    = "tests"
)

// Access-log file formats.
const (
	// FormatEnvoy is Envoy's default access-log text format.
	FormatEnvoy = "envoy"
	// FormatJSON is one JSON object per line, with the keys of Envoy's
	// default format (see sandbox/replay's source documentation).
	FormatJSON = "json"
)

// Version references.
const (
	Live  = "live"
	Draft = "draft"
)

// Engines, as Report.Engines names them.
const (
	EngineEvaluator = "evaluator"
	EngineSim       = "sim"
)

// Classes of change. A changed request carries every class that applies.
const (
	// ClassOtherRule: another rule (or none) decides the request.
	ClassOtherRule = "other-rule"
	// ClassOtherUpstream: the request reaches other upstreams, or the
	// same upstreams in other shares (a weighted split that changed).
	ClassOtherUpstream = "other-upstream"
	// ClassNow404: the request was answered otherwise and is now 404.
	ClassNow404 = "now-404"
	// ClassNowRedirect: the request was not redirected and now is.
	ClassNowRedirect = "now-redirect"
	// ClassRewriteChanged: the upstream receives another path or host,
	// or a redirect points elsewhere.
	ClassRewriteChanged = "rewrite-changed"
	// ClassHeadersChanged: headers the gateway adds to or removes from
	// the request or the response differ.
	ClassHeadersChanged = "headers-changed"
	// ClassStatusChanged: another status for a reason no class above
	// says (a direct response's status, a 404 that is now served).
	ClassStatusChanged = "status-changed"
	// ClassBodyChanged: a direct response answers with another body.
	ClassBodyChanged = "body-changed"
)

// Classes lists every class, in the order reports show them.
var Classes = []string{ClassOtherRule, ClassOtherUpstream, ClassNow404, ClassNowRedirect, ClassRewriteChanged,
	ClassHeadersChanged, ClassStatusChanged, ClassBodyChanged}

// Bounds of one replay.
const (
	// MaxRequests is how many requests one replay runs; a source with
	// more replays its first (for captured traffic: newest) MaxRequests
	// and says so (SourceSummary.Truncated).
	MaxRequests = 100_000
	// MaxUploadBytes bounds an uploaded HAR or access-log file.
	MaxUploadBytes = 32 << 20
	// MaxWindow bounds the window of captured traffic.
	MaxWindow = 30 * 24 * time.Hour
	// DefaultExamples and MaxExamples are the example requests kept per
	// group.
	DefaultExamples = 3
	MaxExamples     = 20
	// MaxGroups bounds the groups of a report, the ones with the most
	// changed requests kept (Report.GroupsOmitted counts the rest).
	MaxGroups = 1000
	// MaxAlarms bounds the fidelity alarms listed (Fidelity.Requests
	// counts them all).
	MaxAlarms = 50
	// MaxBodyShown bounds a direct-response body in an outcome.
	MaxBodyShown = 1024
)

// Request asks for a replay of requests against two versions of a
// gateway.
type Request struct {
	Source Source `json:"source"`
	// From is the version the requests are compared from: "live" (the
	// latest published version, the default), "vN" (or "N") for published
	// version N, or "draft".
	From string `json:"from,omitempty"`
	// To is the version compared to, the same choices; default "draft".
	To string `json:"to,omitempty"`
	// Examples is how many example requests each group keeps; default
	// DefaultExamples, at most MaxExamples.
	Examples int `json:"examples,omitempty"`
	// EvaluatorOnly runs the requests through the reference evaluator
	// alone: faster, but without the simulated Envoy's check of the
	// translated configuration (no fidelity alarms).
	EvaluatorOnly bool `json:"evaluatorOnly,omitempty"`
}

// Source is where the requests come from: exactly one of Since, HAR, Log
// and Tests.
type Source struct {
	// Since replays the gateway's captured requests (the access-log
	// store) of this window before now, a duration such as "24h".
	Since string `json:"since,omitempty"`
	// HAR is an HTTP Archive file (as browsers save it): its requests.
	HAR string `json:"har,omitempty"`
	// Log is an access-log file; Format says which format, "" detects
	// it from the first line (a JSON object or Envoy's text format).
	Log    string `json:"log,omitempty"`
	Format string `json:"format,omitempty"`
	// Tests replays the gateway's saved route tests' requests.
	Tests bool `json:"tests,omitempty"`
}

// Kind is the source's kind ("" when none or several are given).
func (s Source) Kind() string {
	kinds := s.kinds()
	if len(kinds) != 1 {
		return ""
	}
	return kinds[0]
}

func (s Source) kinds() []string {
	var k []string
	if s.Since != "" {
		k = append(k, SourceCaptured)
	}
	if s.HAR != "" {
		k = append(k, SourceHAR)
	}
	if s.Log != "" {
		k = append(k, SourceLog)
	}
	if s.Tests {
		k = append(k, SourceTests)
	}
	return k
}

// Window is Since as a duration; valid only after Validate.
func (s Source) Window() time.Duration {
	d, _ := time.ParseDuration(s.Since)
	return d
}

// Ref is a parsed version reference: Draft, or a published version
// (Version 0 for live, the latest).
type Ref struct {
	Draft   bool
	Version int64
}

// String renders the reference as users write it.
func (r Ref) String() string {
	switch {
	case r.Draft:
		return Draft
	case r.Version == 0:
		return Live
	}
	return "v" + strconv.FormatInt(r.Version, 10)
}

// ParseRef reads "live", "draft", "vN" or "N".
func ParseRef(s string) (Ref, error) {
	switch strings.ToLower(s) {
	case Live:
		return Ref{}, nil
	case Draft:
		return Ref{Draft: true}, nil
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(strings.ToLower(s), "v"), 10, 64)
	if err != nil || n < 1 || strings.HasPrefix(s, "+") || strings.HasPrefix(s, "v+") {
		return Ref{}, fmt.Errorf("want live, draft or a published version such as v3, not %q", s)
	}
	return Ref{Version: n}, nil
}

// Refs returns the parsed From and To with their defaults (live, draft);
// valid only after Validate.
func (r Request) Refs() (from, to Ref) {
	from, to = Ref{}, Ref{Draft: true}
	if r.From != "" {
		from, _ = ParseRef(r.From)
	}
	if r.To != "" {
		to, _ = ParseRef(r.To)
	}
	return from, to
}

// ExamplesPerGroup is Examples with its default.
func (r Request) ExamplesPerGroup() int {
	if r.Examples == 0 {
		return DefaultExamples
	}
	return r.Examples
}

// Validate reports every problem of the request with field paths.
func (r Request) Validate() error {
	var p model.Problems
	s := r.Source
	switch k := s.kinds(); len(k) {
	case 0:
		p.Add("source", "give one of since (captured requests, such as \"24h\"), har, log or tests")
	case 1:
	default:
		p.Add("source", "give only one of since, har, log and tests (this gives %s)", strings.Join(k, ", "))
	}
	if s.Since != "" {
		d, err := time.ParseDuration(s.Since)
		switch {
		case err != nil:
			p.Add("source.since", "want a duration such as 24h or 30m, not %q", s.Since)
		case d <= 0:
			p.Add("source.since", "must be positive")
		case d > MaxWindow:
			p.Add("source.since", "at most %s (30 days)", MaxWindow)
		}
	}
	for _, f := range []struct{ name, v string }{{"source.har", s.HAR}, {"source.log", s.Log}} {
		if len(f.v) > MaxUploadBytes {
			p.Add(f.name, "is %d bytes; at most %d are replayed", len(f.v), MaxUploadBytes)
		}
	}
	switch s.Format {
	case "", FormatEnvoy, FormatJSON:
		if s.Format != "" && s.Log == "" {
			p.Add("source.format", "only with log")
		}
	default:
		p.Add("source.format", "must be envoy or json, not %q", s.Format)
	}
	for _, f := range []struct{ name, v string }{{"from", r.From}, {"to", r.To}} {
		if f.v == "" {
			continue
		}
		if _, err := ParseRef(f.v); err != nil {
			p.Add(f.name, "%v", err)
		}
	}
	if r.Examples < 0 || r.Examples > MaxExamples {
		p.Add("examples", "must be between 0 and %d", MaxExamples)
	}
	return p.Err()
}

// Report is what a replay found. Totals count every replayed request;
// groups, splits and alarms list what changed or disagreed.
type Report struct {
	Gateway string        `json:"gateway"`
	From    Version       `json:"from"`
	To      Version       `json:"to"`
	Source  SourceSummary `json:"source"`
	// Engines ran every request: the evaluator, and the simulated Envoy
	// unless the request asked for the evaluator only.
	Engines []string `json:"engines"`
	// Total is M, the requests replayed; Changed is N, those whose
	// outcome differs between From and To.
	Total   int `json:"total"`
	Changed int `json:"changed"`
	// Summary says it in words: "N of M requests would change".
	Summary string `json:"summary"`
	// Classes counts changed requests by class (every class has a key;
	// a request counts once in each class it has).
	Classes map[string]int `json:"classes"`
	// Groups are the changed requests grouped by the rule that decides
	// them in From and in To, most changed first.
	Groups        []Group `json:"groups"`
	GroupsOmitted int     `json:"groupsOmitted,omitempty"`
	// Splits compare weighted splits as distributions: for every
	// (rule before, rule after) pair where either side splits traffic by
	// weight, the expected requests per upstream before and after.
	Splits   []Split  `json:"splits"`
	Fidelity Fidelity `json:"fidelity"`
	// DurationMs is how long the replay took, reading the source included.
	DurationMs float64 `json:"durationMs"`
}

// Version is one side of the comparison.
type Version struct {
	// Ref is what was asked: live, draft or vN.
	Ref string `json:"ref"`
	// Version is the published version it resolved to; 0 for the draft.
	Version int64 `json:"version"`
}

// SourceSummary says what the source yielded.
type SourceSummary struct {
	Kind string `json:"kind"`
	// Format is the access-log format read (log sources).
	Format string `json:"format,omitempty"`
	// Since and Until bound the window of captured requests.
	Since *time.Time `json:"since,omitempty"`
	Until *time.Time `json:"until,omitempty"`
	// Read is how many requests the source held, Replayed how many ran
	// (Report.Total).
	Read int `json:"read"`
	// Skipped counts requests that cannot be replayed, by reason (a
	// CONNECT, a data: URL in a HAR file...).
	Skipped map[string]int `json:"skipped,omitempty"`
	// Truncated is set when the source held more than MaxRequests.
	Truncated bool `json:"truncated,omitempty"`
	// Notes say what the source cannot tell, which may hide changes
	// (captured requests keep only some of their headers, say).
	Notes []string `json:"notes,omitempty"`
}

// Group is the changed requests that one rule decided in From and one
// (maybe the same) in To.
type Group struct {
	// RuleBefore and RuleAfter are the deciding rules, "" when none
	// matched (the gateway's default answer).
	RuleBefore string `json:"ruleBefore"`
	RuleAfter  string `json:"ruleAfter"`
	// Requests is every replayed request of the pair, Changed those that
	// changed.
	Requests int `json:"requests"`
	Changed  int `json:"changed"`
	// Classes counts the changed requests by class (only classes seen).
	Classes  map[string]int `json:"classes"`
	Examples []Example      `json:"examples"`
}

// Example is one changed request with both outcomes.
type Example struct {
	Request RequestInfo `json:"request"`
	Classes []string    `json:"classes"`
	Before  Outcome     `json:"before"`
	After   Outcome     `json:"after"`
}

// RequestInfo is a replayed request as reports show it. Values of headers
// that carry credentials are replaced by "(redacted)".
type RequestInfo struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	// Origin says where the request came from: "line 12", "entry 3"
	// (a HAR entry), "test cart-checkout", "entry 7, captured
	// 2026-12-07T18:00:00Z" (the request log's entry).
	Origin string `json:"origin"`
}

// Outcome is what a version does with a request, as the reference
// evaluator says (a fidelity alarm is raised where the simulated Envoy
// says otherwise).
type Outcome struct {
	// Rule is the deciding rule, "" when none matched.
	Rule string `json:"rule"`
	// Status is what the gateway answers by itself (a redirect, a direct
	// response, 404 when nothing matched, 503 for a missing upstream);
	// 0 when the request is forwarded and an upstream answers.
	Status int `json:"status"`
	// Forward lists the upstreams the request reaches, with their share
	// (1 for a single upstream; a weighted split's shares add up to 1).
	Forward []Target `json:"forward,omitempty"`
	// Redirect is a redirect's Location.
	Redirect string `json:"redirect,omitempty"`
	// Body is a direct response's body (at most MaxBodyShown bytes).
	Body string `json:"body,omitempty"`
	// ResponseHeaders are the headers of the gateway's own answer (a
	// redirect, a direct response, the default answer); each Target says
	// what the gateway does to an upstream's.
	ResponseHeaders HeaderEdits `json:"responseHeaders"`
}

// Target is one upstream a request reaches and what it receives.
type Target struct {
	Upstream string  `json:"upstream"`
	Share    float64 `json:"share"`
	// Path is the :path the upstream receives (query included), Host its
	// Host header, after rewrites.
	Path string `json:"path"`
	Host string `json:"host"`
	// RequestHeaders are what the gateway does to the request's headers,
	// ResponseHeaders to the upstream's answer (headers removed are those
	// an upstream would have sent).
	RequestHeaders  HeaderEdits `json:"requestHeaders"`
	ResponseHeaders HeaderEdits `json:"responseHeaders"`
}

// HeaderEdits are a gateway's changes to a set of headers: headers set
// (added, or given another value) and headers removed. Names are lower
// case; several values are joined with ",".
type HeaderEdits struct {
	Set     map[string]string `json:"set,omitempty"`
	Removed []string          `json:"removed,omitempty"`
}

// Split is a weighted split compared as distributions.
type Split struct {
	RuleBefore string `json:"ruleBefore"`
	RuleAfter  string `json:"ruleAfter"`
	// Requests is every replayed request of the pair.
	Requests int `json:"requests"`
	// Before and After are the expected requests per upstream, by
	// upstream name; requests answered without an upstream are in none.
	Before []Share `json:"before"`
	After  []Share `json:"after"`
	// Changed is set when the distributions differ.
	Changed bool `json:"changed"`
}

// Share is an upstream's part of a distribution.
type Share struct {
	Upstream string `json:"upstream"`
	// Requests is the expected number of requests (weights times
	// requests, so not always whole); Percent its share of the pair's
	// requests.
	Requests float64 `json:"requests"`
	Percent  float64 `json:"percent"`
}

// Fidelity is the check of the simulated Envoy against the reference
// evaluator.
type Fidelity struct {
	// Requests counts requests on which the two disagree, on either
	// version; a disagreement means the translation or the simulated
	// Envoy is wrong, so the report above may be too.
	Requests int     `json:"requests"`
	Alarms   []Alarm `json:"alarms"`
}

// Alarm is one request on which the evaluator and the simulated Envoy
// disagree.
type Alarm struct {
	// Side is "from" or "to", Version the reference it names.
	Side    string      `json:"side"`
	Version string      `json:"version"`
	Request RequestInfo `json:"request"`
	// Field is what differs (rule, status, upstream, path, host,
	// redirect, body, requestHeaders, responseHeaders), with both
	// engines' values.
	Field     string `json:"field"`
	Evaluator string `json:"evaluator"`
	Sim       string `json:"sim"`
}

// SummaryText renders "N of M requests would change".
func SummaryText(changed, total int) string {
	noun := "requests"
	if total == 1 {
		noun = "request"
	}
	verb := "would change"
	return fmt.Sprintf("%d of %d %s %s", changed, total, noun, verb)
}
