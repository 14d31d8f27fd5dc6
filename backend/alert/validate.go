package alert

import (
	"fmt"
	"math"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/routedeck/routedeck/backend/model"
)

// Normalize fills the defaults a rule leaves out, so what is stored and
// shown is what is evaluated.
func (r *Rule) Normalize() {
	switch r.Metric {
	case MetricErrorRate:
		if r.StatusClass == "" {
			r.StatusClass = "5xx"
		}
	case MetricLatency:
		if r.Percentile == "" {
			r.Percentile = "p99"
		}
	}
}

// Validate checks the rule on its own (its gateway, rule and notifiers
// existing is the caller's check), every problem at once.
func (r *Rule) Validate() error {
	var p model.Problems
	model.CheckName(&p, "name", r.Name)
	model.CheckDescription(&p, "description", r.Description)
	model.CheckName(&p, "gateway", r.Gateway)
	if r.Rule != "" {
		model.CheckName(&p, "rule", r.Rule)
	}
	switch r.Metric {
	case MetricRequests:
		if r.Percentile != "" {
			p.Add("percentile", "only latency rules have a percentile")
		}
	case MetricErrorRate:
		if r.Percentile != "" {
			p.Add("percentile", "only latency rules have a percentile")
		}
		if r.Threshold < 0 || r.Threshold > 100 {
			p.Add("threshold", "an error rate is a percentage from 0 to 100")
		}
	case MetricLatency:
		if r.StatusClass != "" {
			p.Add("statusClass", "latency rules measure every request; a status class applies to requests and error-rate")
		}
		if r.Percentile != "" && !slices.Contains(percentiles, r.Percentile) {
			p.Add("percentile", "must be one of %s", strings.Join(percentiles, ", "))
		}
	case "":
		p.Add("metric", "required: one of requests, error-rate, latency")
	default:
		p.Add("metric", "must be one of requests, error-rate, latency")
	}
	if r.StatusClass != "" && !slices.Contains(statusClasses, r.StatusClass) {
		p.Add("statusClass", "must be one of %s", strings.Join(statusClasses, ", "))
	}
	if !slices.Contains(ops, r.Op) {
		p.Add("op", "must be one of %s", strings.Join(ops, " "))
	}
	if math.IsNaN(r.Threshold) || math.IsInf(r.Threshold, 0) || r.Threshold < 0 || r.Threshold > 1e12 {
		p.Add("threshold", "must be a number from 0 to 1e12")
	}
	if w := r.Window.Std(); w < MinWindow || w > MaxWindow {
		p.Add("window", "must be from %s to %s", fmtDuration(MinWindow), fmtDuration(MaxWindow))
	} else if w%time.Second != 0 {
		p.Add("window", "must be a whole number of seconds")
	}
	if f := r.For.Std(); f < 0 || f > MaxFor {
		p.Add("for", "must be from 0s to %s", fmtDuration(MaxFor))
	}
	if r.MinRequests < 0 || r.MinRequests > 1_000_000_000 {
		p.Add("minRequests", "must be from 0 to 1000000000")
	}
	if len(r.Notifiers) > MaxRuleNotifiers {
		p.Add("notifiers", "at most %d notifiers", MaxRuleNotifiers)
	}
	seen := map[string]bool{}
	for i, n := range r.Notifiers {
		path := fmt.Sprintf("notifiers[%d]", i)
		model.CheckName(&p, path, n)
		if seen[n] {
			p.Add(path, "%q is listed twice", n)
		}
		seen[n] = true
	}
	if r.Version < 0 {
		p.Add("version", "must not be negative")
	}
	return p.Err()
}

// Validate checks the notifier, every problem at once.
func (n *Notifier) Validate() error {
	var p model.Problems
	model.CheckName(&p, "name", n.Name)
	model.CheckDescription(&p, "description", n.Description)
	switch n.Type {
	case TypeWebhook:
		if n.Email != nil {
			p.Add("email", "a webhook notifier has no email settings")
		}
		if n.Webhook == nil {
			p.Add("webhook", "required for a webhook notifier")
		} else {
			n.Webhook.validate(&p, "webhook")
		}
	case TypeEmail:
		if n.Webhook != nil {
			p.Add("webhook", "an email notifier has no webhook settings")
		}
		if n.Email == nil {
			p.Add("email", "required for an email notifier")
		} else {
			n.Email.validate(&p, "email")
		}
	case "":
		p.Add("type", "required: webhook or email")
	default:
		p.Add("type", "must be webhook or email")
	}
	if n.Version < 0 {
		p.Add("version", "must not be negative")
	}
	return p.Err()
}

func (w *Webhook) validate(p *model.Problems, path string) {
	at := func(f string) string { return path + "." + f }
	switch u, err := url.Parse(w.URL); {
	case w.URL == "":
		p.Add(at("url"), "required")
	case model.IsFingerprint(w.URL):
		p.Add(at("url"), "unknown fingerprint %s; send the URL itself", w.URL)
	case len(w.URL) > maxURL:
		p.Add(at("url"), "at most %d bytes", maxURL)
	case err != nil:
		p.Add(at("url"), "not a URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		p.Add(at("url"), "must be an http or https URL")
	case u.Host == "":
		p.Add(at("url"), "must name a host")
	case u.User != nil:
		// Go would turn it into a Basic Authorization header beside the
		// configured one, and receivers log the URLs they are posted to:
		// a credential belongs in the Authorization header.
		p.Add(at("url"), "must not carry a user or password: put the credential in authorization")
	case u.Fragment != "":
		p.Add(at("url"), "must not have a fragment")
	}
	checkHeaderValue(p, at("authorization"), w.Authorization)
}

func (e *Email) validate(p *model.Problems, path string) {
	at := func(f string) string { return path + "." + f }
	if e.Smarthost == "" {
		p.Add(at("smarthost"), "required: host:port of the SMTP server")
	} else if host, port, err := net.SplitHostPort(e.Smarthost); err != nil || host == "" || len(e.Smarthost) > 255 {
		p.Add(at("smarthost"), "want host:port, such as smtp.example.com:587")
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		p.Add(at("smarthost"), "port must be from 1 to 65535")
	}
	checkAddress(p, at("from"), e.From)
	switch {
	case len(e.To) == 0:
		p.Add(at("to"), "at least one recipient")
	case len(e.To) > MaxRecipients:
		p.Add(at("to"), "at most %d recipients", MaxRecipients)
	}
	for i, to := range e.To {
		checkAddress(p, fmt.Sprintf("%s[%d]", at("to"), i), to)
	}
	if len(e.Username) > 256 || strings.ContainsAny(e.Username, "\x00\r\n") {
		p.Add(at("username"), "at most 256 bytes, one line")
	}
	if len(e.Password) > maxSecret || strings.ContainsRune(e.Password, 0) {
		p.Add(at("password"), "at most %d bytes, no NUL", maxSecret)
	}
	if e.Password != "" && e.Username == "" {
		p.Add(at("username"), "required with a password")
	}
}

// checkAddress accepts one bare address ("ops@example.com"): a display
// name or a list would go into a header as written.
func checkAddress(p *model.Problems, path, s string) {
	if s == "" {
		p.Add(path, "required")
		return
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > maxAddress || strings.ContainsAny(s, "\r\n<>") {
		p.Add(path, "want a bare email address such as ops@example.com")
	}
}

func checkHeaderValue(p *model.Problems, path, v string) {
	if len(v) > maxSecret {
		p.Add(path, "at most %d bytes", maxSecret)
		return
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			p.Add(path, "must be one line of printable text")
			return
		}
	}
}

// fmtDuration writes d without the zero units time.Duration.String adds
// ("1h", not "1h0m0s").
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
