package alert

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"mime"
	"mime/quotedprintable"
	"net/url"
	"slices"
	"strings"
	"time"
)

// notice is one thing to tell the notifiers of a rule: it fired, it
// resolved, or someone asked for a test.
type notice struct {
	event    string
	rule     Rule
	incident Incident
	// value is the measurement the event is about (the firing one, or
	// the one that found the rule resolved); nil when none did (a
	// disabled rule resolves without one).
	value *float64
}

// labels are the alert's identity in the Alertmanager body: the rule's
// name and what it watches.
func (n *notice) labels() map[string]string {
	l := map[string]string{"alertname": n.rule.Name, "gateway": n.rule.Gateway, "metric": n.rule.Metric}
	if n.rule.Rule != "" {
		l["rule"] = n.rule.Rule
	}
	if n.event == EventTest {
		l["test"] = "true"
	}
	return l
}

func (n *notice) annotations() map[string]string {
	a := map[string]string{"summary": n.incident.Summary, "threshold": n.rule.Op + " " + n.rule.Format(n.rule.Threshold)}
	if n.rule.Description != "" {
		a["description"] = n.rule.Description
	}
	if n.value != nil {
		a["value"] = n.rule.Format(round(*n.value))
	}
	return a
}

// status is the Alertmanager status: a test reads as firing, so a
// receiver handles it as it would a real alert.
func (n *notice) status() string {
	if n.event == EventResolved {
		return "resolved"
	}
	return "firing"
}

// amMessage is the body Prometheus Alertmanager's webhook receiver posts
// (version 4), the format webhook consumers already parse.
type amMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []amAlert         `json:"alerts"`
}

type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"` // zero while firing, as Alertmanager sends it
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// webhookBody renders n for receiver (the notifier's name).
func webhookBody(n *notice, receiver, externalURL string) []byte {
	labels := n.labels()
	a := amAlert{Status: n.status(), Labels: labels, Annotations: n.annotations(), StartsAt: n.incident.StartedAt.UTC(),
		GeneratorURL: generatorURL(externalURL, n.rule.Name), Fingerprint: fingerprint(labels)}
	if n.incident.ResolvedAt != nil {
		a.EndsAt = n.incident.ResolvedAt.UTC()
	}
	m := amMessage{Version: "4", GroupKey: fmt.Sprintf("{}:{alertname=%q}", n.rule.Name), Status: a.Status,
		Receiver: receiver, GroupLabels: map[string]string{"alertname": n.rule.Name}, CommonLabels: labels,
		CommonAnnotations: a.Annotations, ExternalURL: externalURL, Alerts: []amAlert{a}}
	b, _ := json.Marshal(m)
	return b
}

// fingerprint identifies an alert by its labels, as Alertmanager's
// 16 hex digits do.
func fingerprint(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := fnv.New64a()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0xff})
		h.Write([]byte(labels[k]))
		h.Write([]byte{0xff})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// generatorURL links to the rule on the dashboard's Alerts screen.
func generatorURL(externalURL, rule string) string {
	if externalURL == "" {
		return ""
	}
	// The dashboard routes by the URL fragment.
	return strings.TrimSuffix(externalURL, "/") + "/#/alerts?rule=" + url.QueryEscape(rule)
}

// emailMessage renders n as a plain-text mail from e.From to e.To.
func emailMessage(n *notice, e *Email, externalURL string, now time.Time) []byte {
	state := strings.ToUpper(n.status())
	if n.event == EventTest {
		state = "TEST"
	}
	subject := fmt.Sprintf("[%s] %s: %s", state, n.rule.Name, n.incident.Summary)
	var body strings.Builder
	switch n.event {
	case EventFiring:
		fmt.Fprintf(&body, "Alert rule %s is firing.\n\n", n.rule.Name)
	case EventResolved:
		fmt.Fprintf(&body, "Alert rule %s is resolved.\n\n", n.rule.Name)
	default:
		body.WriteString("This is a test notification from routedeck: no rule fired.\n\n")
	}
	fmt.Fprintf(&body, "%s\n\n", n.incident.Summary)
	if n.value != nil {
		fmt.Fprintf(&body, "Value:    %s\n", n.rule.Format(round(*n.value)))
	}
	fmt.Fprintf(&body, "Started:  %s\n", n.incident.StartedAt.UTC().Format(time.RFC3339))
	if n.incident.ResolvedAt != nil {
		fmt.Fprintf(&body, "Resolved: %s\n", n.incident.ResolvedAt.UTC().Format(time.RFC3339))
	}
	if n.incident.Note != "" {
		fmt.Fprintf(&body, "Note:     %s\n", n.incident.Note)
	}
	if n.rule.Description != "" {
		fmt.Fprintf(&body, "\n%s\n", n.rule.Description)
	}
	if u := generatorURL(externalURL, n.rule.Name); u != "" {
		fmt.Fprintf(&body, "\n%s\n", u)
	}
	var b bytes.Buffer
	// Header values are built from validated names and addresses; the
	// subject is still encoded, so no value can start a header of its own.
	fmt.Fprintf(&b, "From: %s\r\n", e.From)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(e.To, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%d.%s.%d@routedeck>\r\n", n.incident.ID, n.event, now.UnixNano())
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n")
	b.WriteString("Auto-Submitted: auto-generated\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(body.String(), "\n", "\r\n")))
	qp.Close()
	return b.Bytes()
}
