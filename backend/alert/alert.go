// Package alert watches the traffic the gateways' proxies report and tells
// people when it goes wrong: alert rules on a gateway's (or one of its
// rules') request count, error rate or latency over a window, evaluated
// every few seconds from the request log's rollups; firing and resolved
// incidents kept with their history; notifications by webhook (the
// Prometheus Alertmanager body) and by email over SMTP.
//
// The package owns the rules' meaning and the evaluation; the store keeps
// rules, notifiers (their credentials sealed) and incidents, and the
// request log answers what traffic a window saw.
package alert

import (
	"net/url"
	"time"

	"github.com/routedeck/routedeck/backend/model"
)

// Metrics a rule can watch.
const (
	// MetricRequests counts requests in the window (of StatusClass only,
	// when set): a traffic drop with "<", an error count with "5xx".
	MetricRequests = "requests"
	// MetricErrorRate is the share of requests of StatusClass (5xx by
	// default), in percent.
	MetricErrorRate = "error-rate"
	// MetricLatency is a latency percentile, in milliseconds.
	MetricLatency = "latency"
)

// Status classes. Class5xx also counts requests that got no response at
// all (a reset, a timeout before headers), as the request log does: for
// a client they failed like a 503.
var statusClasses = []string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// Percentiles a latency rule can watch.
var percentiles = []string{"p50", "p90", "p99"}

// Comparisons, of the measured value against the threshold.
var ops = []string{">", ">=", "<", "<="}

// Bounds of rules and notifiers.
const (
	MinWindow = time.Minute
	MaxWindow = time.Hour
	// MaxFor bounds how long a breach must last before it fires.
	MaxFor = time.Hour
	// MaxRules and MaxNotifiers bound what is evaluated every round and
	// kept in memory.
	MaxRules     = 500
	MaxNotifiers = 100
	// MaxRuleNotifiers bounds the notifiers one rule notifies.
	MaxRuleNotifiers = 10
	// MaxRecipients bounds an email notifier's To list.
	MaxRecipients = 20
	maxURL        = 2048
	maxSecret     = 4096
	maxAddress    = 320 // RFC 5321's bound on a forward path
)

// DefaultInterval is how often rules are evaluated. With a breach seen at
// the first round after it starts and notifications sent at once, an
// alert without a "for" delay notifies within about 15 seconds of the
// breach reaching the request log, well inside a minute.
const DefaultInterval = 15 * time.Second

// Rule is an alert rule. Its JSON shape is part of the HTTP API.
type Rule struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Gateway is watched as a whole (every request it served, matched
	// or not) unless Rule names one of its rules.
	Gateway string `json:"gateway"`
	Rule    string `json:"rule,omitempty"`
	// Metric is requests, error-rate or latency.
	Metric string `json:"metric"`
	// StatusClass narrows requests to one class, and is the class whose
	// share error-rate measures (5xx when empty).
	StatusClass string `json:"statusClass,omitempty"`
	// Percentile of a latency rule: p50, p90 or p99 (p99 when empty).
	Percentile string `json:"percentile,omitempty"`
	// Op compares the measured value to Threshold: >, >=, < or <=.
	Op string `json:"op"`
	// Threshold is a count (requests), a percentage from 0 to 100
	// (error-rate) or milliseconds (latency).
	Threshold float64 `json:"threshold"`
	// Window is the span of traffic each evaluation measures, 1m to 1h.
	Window model.Duration `json:"window"`
	// For is how long a breach must last before the rule fires; 0 fires
	// at the first breached evaluation.
	For model.Duration `json:"for,omitempty"`
	// MinRequests is the fewest requests in the window for error-rate
	// and latency to mean something; below it the rule reads "no data"
	// and neither fires nor resolves.
	MinRequests int `json:"minRequests,omitempty"`
	// Notifiers are told when the rule fires and resolves.
	Notifiers []string `json:"notifiers,omitempty"`
	Disabled  bool     `json:"disabled,omitempty"`
	// Version guards updates and deletes against lost writes.
	Version   int64     `json:"version,omitempty"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	UpdatedBy string    `json:"updatedBy,omitempty"`
}

// Notifier types.
const (
	TypeWebhook = "webhook"
	TypeEmail   = "email"
)

// Notifier says where notifications go. Its JSON shape is part of the
// HTTP API and of the store's spec column; the credentials are never
// encoded (json:"-"), only whether they are set, and the webhook URL is
// encoded only as its origin and, in answers, its fingerprint.
type Notifier struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Type        string   `json:"type"`
	Webhook     *Webhook `json:"webhook,omitempty"`
	Email       *Email   `json:"email,omitempty"`
	// SkipResolved sends only firing notifications.
	SkipResolved bool      `json:"skipResolved,omitempty"`
	Version      int64     `json:"version,omitempty"`
	UpdatedAt    time.Time `json:"updatedAt,omitzero"`
	UpdatedBy    string    `json:"updatedBy,omitempty"`
}

// Webhook posts the Alertmanager webhook body (version 4) to URL.
type Webhook struct {
	// URL is where notifications are posted. Receivers put their token
	// in the path or the query (Slack, Teams, PagerDuty, Opsgenie), so
	// the whole URL is a credential: sealed at rest with the others,
	// never logged, shown only as Origin and a fingerprint.
	URL string `json:"-"`
	// Shown is what an answer shows in the url field: the URL's
	// fingerprint (see Redacted), which a client sends back to keep the
	// stored URL. It is empty in what the store keeps.
	Shown string `json:"url,omitempty"`
	// Origin is the URL's scheme, host and port: where notifications
	// go, without the part that carries a token.
	Origin string `json:"origin"`
	// Authorization is the Authorization header sent with each POST
	// ("Bearer ..."): a credential, sealed at rest, never shown.
	Authorization string `json:"-"`
	// AuthorizationSet reports whether Authorization is set.
	AuthorizationSet bool `json:"authorizationSet"`
}

// Email sends plain-text mail through an SMTP server (a relay or the
// provider's submission port). STARTTLS is used whenever the server
// offers it, and required with RequireTLS; credentials are only sent
// over TLS (or to a server on loopback).
type Email struct {
	// Smarthost is the SMTP server, host:port.
	Smarthost string   `json:"smarthost"`
	From      string   `json:"from"`
	To        []string `json:"to"`
	// Username, with Password, authenticates (AUTH PLAIN); empty sends
	// without authentication.
	Username string `json:"username,omitempty"`
	// Password is a credential, sealed at rest, never shown.
	Password    string `json:"-"`
	PasswordSet bool   `json:"passwordSet"`
	// RequireTLS refuses to send to a server that does not offer
	// STARTTLS.
	RequireTLS bool `json:"requireTls,omitempty"`
}

// Secrets are a notifier's credentials, the part the store seals.
type Secrets struct {
	URL           string `json:"url,omitempty"`
	Authorization string `json:"authorization,omitempty"`
	Password      string `json:"password,omitempty"`
}

// Secrets returns n's credentials.
func (n *Notifier) Secrets() Secrets {
	var s Secrets
	if n.Webhook != nil {
		s.URL, s.Authorization = n.Webhook.URL, n.Webhook.Authorization
	}
	if n.Email != nil {
		s.Password = n.Email.Password
	}
	return s
}

// SetSecrets puts credentials back into n, and the fields that follow
// from them: which are set, the URL's origin.
func (n *Notifier) SetSecrets(s Secrets) {
	if w := n.Webhook; w != nil {
		// Notifiers written before the URL was sealed kept it in clear in
		// the spec, where Shown is decoded from; the store seals such URLs
		// when it opens the database.
		if s.URL == "" && w.Shown != "" && !model.IsFingerprint(w.Shown) {
			s.URL = w.Shown
		}
		w.URL, w.Shown, w.Origin = s.URL, "", origin(s.URL)
		w.Authorization = s.Authorization
		w.AuthorizationSet = s.Authorization != ""
	}
	if n.Email != nil {
		n.Email.Password = s.Password
		n.Email.PasswordSet = s.Password != ""
	}
}

// Redacted returns n as answers show it: the webhook URL reads as its
// fingerprint (the other credentials are never encoded). n itself is not
// changed.
func (n Notifier) Redacted(fp model.Fingerprinter) Notifier {
	if n.Webhook != nil {
		w := *n.Webhook
		w.Shown = ""
		if w.URL != "" {
			w.Shown = fp.Fingerprint(w.URL)
		}
		n.Webhook = &w
	}
	return n
}

// RestoreURL undoes Redacted on the webhook URL a client sends: the
// fingerprint of stored's URL reads as that URL. Anything else comes back
// as sent; Validate refuses a fingerprint that names no stored URL.
func RestoreURL(url string, stored Secrets, fp model.Fingerprinter) string {
	if model.IsFingerprint(url) && stored.URL != "" && fp.Fingerprint(stored.URL) == url {
		return stored.URL
	}
	return url
}

// origin returns raw's scheme and host (with its port), or "" when raw
// is no URL.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// Incident is one firing of a rule, from the evaluation that found the
// breach to the one that found it over. Its JSON shape is part of the
// HTTP API.
type Incident struct {
	ID   int64  `json:"id"`
	Rule string `json:"rule"`
	// Summary says what was measured against what, as notified
	// ("error rate 12.5% > 5% over 5m on gateway public").
	Summary   string    `json:"summary"`
	StartedAt time.Time `json:"startedAt"`
	// Value is the measurement that fired the rule.
	Value float64 `json:"value"`
	// ResolvedAt and ResolvedValue are set once the incident is over.
	ResolvedAt    *time.Time `json:"resolvedAt,omitempty"`
	ResolvedValue *float64   `json:"resolvedValue,omitempty"`
	// Note says why an incident ended other than by a measurement (the
	// rule was disabled, or changed to watch something else).
	Note       string     `json:"note,omitempty"`
	Deliveries []Delivery `json:"deliveries"`
}

// Events a delivery reports.
const (
	EventFiring   = "firing"
	EventResolved = "resolved"
	EventTest     = "test"
)

// Delivery is the outcome of one notification to one notifier.
type Delivery struct {
	Notifier string    `json:"notifier"`
	Event    string    `json:"event"`
	At       time.Time `json:"at"`
	OK       bool      `json:"ok"`
	Attempts int       `json:"attempts"`
	Error    string    `json:"error,omitempty"`
}

// States of a rule.
const (
	StateOK       = "ok"
	StatePending  = "pending"
	StateFiring   = "firing"
	StateNoData   = "nodata"
	StateDisabled = "disabled"
	// StateUnknown: not evaluated yet since the server started.
	StateUnknown = "unknown"
)

// State is a rule's current state. Its JSON shape is part of the HTTP
// API.
type State struct {
	Rule  string `json:"rule"`
	State string `json:"state"`
	// Value is the last measurement; nil without data.
	Value *float64 `json:"value,omitempty"`
	// Requests is how many requests the last window held.
	Requests uint64 `json:"requests"`
	// Since is when the rule entered its state (for firing, when the
	// incident started).
	Since *time.Time `json:"since,omitempty"`
	// EvaluatedAt is the last evaluation.
	EvaluatedAt *time.Time `json:"evaluatedAt,omitempty"`
	// Incident is the open incident of a firing rule.
	Incident int64 `json:"incident,omitempty"`
	// Error is why the last evaluation failed.
	Error string `json:"error,omitempty"`
}
