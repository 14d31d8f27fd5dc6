package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/routedeck/routedeck/backend/alert"
	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
)

// Alerts is the running alert evaluator (backend/alert.Evaluator);
// without it rules and notifiers can still be edited, states read as
// unknown and test notifications answer 501.
type Alerts interface {
	States() []alert.State
	// Test sends a test notification to n at once and reports how it went.
	Test(ctx context.Context, n alert.Notifier) alert.Delivery
}

// alertRoutes serves /alerts: rules (editors write), notifiers (admins
// write: they hold credentials and make the server connect out), states
// and history (viewers).
func (s *server) alertRoutes(r chi.Router, need func(string) func(http.Handler) http.Handler) {
	r.Route("/rules", alertKind[alertRuleBody, *alertRuleBody, alert.Rule]{
		list: s.Store.AlertRules, get: s.Store.AlertRule, build: alertRuleFrom,
		create: s.Store.CreateAlertRule, update: s.Store.UpdateAlertRule, del: s.Store.DeleteAlertRule,
	}.routes(s, need(auth.RoleViewer), need(auth.RoleEditor)))
	r.Route("/notifiers", func(r chi.Router) {
		alertKind[notifierBody, *notifierBody, alert.Notifier]{
			list: s.Store.AlertNotifiers, get: s.Store.AlertNotifier, build: s.notifierFrom, show: s.notifierShown,
			create: s.Store.CreateAlertNotifier, update: s.Store.UpdateAlertNotifier, del: s.Store.DeleteAlertNotifier,
		}.routes(s, need(auth.RoleViewer), need(auth.RoleAdmin))(r)
		r.With(need(auth.RoleAdmin), s.runsLong).Post("/{name}/test", s.testNotifier)
	})
	r.With(need(auth.RoleViewer)).Get("/states", s.alertStates)
	r.With(need(auth.RoleViewer)).Get("/history", s.alertHistory)
}

// alertKind is one kind of named, versioned object under /alerts (B the
// body POST and PUT read, T the object) and the store's methods for it.
type alertKind[B any, P namedBody[B], T any] struct {
	list   func(ctx context.Context) ([]T, error)
	get    func(ctx context.Context, name string) (T, error)
	create func(ctx context.Context, actor string, obj *T) error
	update func(ctx context.Context, actor string, obj *T) error
	del    func(ctx context.Context, actor, name string, version int64) error
	// build makes the object a body describes, checked; on a PUT the
	// body's name is the URL's.
	build func(r *http.Request, b *B) (T, error)
	// show is the object as answers show it; nil shows it as it is.
	show func(T) T
}

// namedBody is a request body that names the object it writes.
type namedBody[B any] interface {
	*B
	name() *string
}

func (b *alertRuleBody) name() *string { return &b.Name }
func (b *notifierBody) name() *string  { return &b.Name }

// routes serves the collection: reads for read, writes for write.
func (k alertKind[B, P, T]) routes(s *server, read, write func(http.Handler) http.Handler) func(chi.Router) {
	shown := func(obj T) T {
		if k.show != nil {
			return k.show(obj)
		}
		return obj
	}
	return func(r chi.Router) {
		r.With(read).Get("/", func(w http.ResponseWriter, r *http.Request) {
			items, err := k.list(r.Context())
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			for i := range items {
				items[i] = shown(items[i])
			}
			writeItems(w, items)
		})
		r.With(read).Get("/{name}", func(w http.ResponseWriter, r *http.Request) {
			obj, err := k.get(r.Context(), chi.URLParam(r, "name"))
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, shown(obj))
		})
		put := func(store func(context.Context, string, *T) error, status int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				var b B
				err := decode(r, &b)
				if err == nil && chi.URLParam(r, "name") != "" {
					err = nameFromURL(r, P(&b).name())
				}
				var obj T
				if err == nil {
					obj, err = k.build(r, &b)
				}
				if err == nil {
					err = store(r.Context(), auth.Actor(r.Context()), &obj)
				}
				if err != nil {
					s.writeError(w, r, err)
					return
				}
				writeJSON(w, status, shown(obj))
			}
		}
		r.With(write).Post("/", put(k.create, http.StatusCreated))
		r.With(write).Put("/{name}", put(k.update, http.StatusOK))
		r.With(write).Delete("/{name}", func(w http.ResponseWriter, r *http.Request) {
			version, err := versionFrom(r, true)
			if err == nil {
				err = k.del(r.Context(), auth.Actor(r.Context()), chi.URLParam(r, "name"), version)
			}
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
	}
}

// alertRuleBody is what POST and PUT read: a rule without its change
// stamps, which the server sets.
type alertRuleBody struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Gateway     string         `json:"gateway"`
	Rule        string         `json:"rule"`
	Metric      string         `json:"metric"`
	StatusClass string         `json:"statusClass"`
	Percentile  string         `json:"percentile"`
	Op          string         `json:"op"`
	Threshold   float64        `json:"threshold"`
	Window      model.Duration `json:"window"`
	For         model.Duration `json:"for"`
	MinRequests int            `json:"minRequests"`
	Notifiers   []string       `json:"notifiers"`
	Disabled    bool           `json:"disabled"`
	Version     int64          `json:"version"`
}

// alertRuleFrom builds the rule b describes, normalized and checked.
func alertRuleFrom(_ *http.Request, b *alertRuleBody) (alert.Rule, error) {
	rule := alert.Rule{Name: b.Name, Description: b.Description, Gateway: b.Gateway, Rule: b.Rule, Metric: b.Metric,
		StatusClass: b.StatusClass, Percentile: b.Percentile, Op: b.Op, Threshold: b.Threshold, Window: b.Window,
		For: b.For, MinRequests: b.MinRequests, Notifiers: b.Notifiers, Disabled: b.Disabled, Version: b.Version}
	rule.Normalize()
	return rule, rule.Validate()
}

// nameFromURL checks a body's name against the URL's (renaming is not
// supported) and fills it in when the body leaves it out.
func nameFromURL(r *http.Request, name *string) error {
	url := chi.URLParam(r, "name")
	switch {
	case *name == "":
		*name = url
	case *name != url:
		return fieldError("name", fmt.Sprintf("%q does not match the URL (%q); renaming is not supported", *name, url))
	}
	return nil
}

// notifierBody is what POST and PUT read. The webhook URL is a
// credential shown as its fingerprint: sent back, it keeps the stored
// URL. The other credentials are write-only: on an update, one left out
// keeps the stored one and "" removes it.
type notifierBody struct {
	Name         string       `json:"name"`
	Description  string       `json:"description"`
	Type         string       `json:"type"`
	Webhook      *webhookBody `json:"webhook"`
	Email        *emailBody   `json:"email"`
	SkipResolved bool         `json:"skipResolved"`
	Version      int64        `json:"version"`
}

type webhookBody struct {
	URL           string  `json:"url"`
	Authorization *string `json:"authorization"`
}

type emailBody struct {
	Smarthost  string   `json:"smarthost"`
	From       string   `json:"from"`
	To         []string `json:"to"`
	Username   string   `json:"username"`
	Password   *string  `json:"password"`
	RequireTLS bool     `json:"requireTls"`
}

// notifierFrom builds the notifier b describes, checked. On a PUT the
// stored notifier's credentials are kept where b leaves them out, and its
// URL where b sends the URL's fingerprint back.
func (s *server) notifierFrom(r *http.Request, b *notifierBody) (alert.Notifier, error) {
	var kept alert.Secrets
	if r.Method == http.MethodPut {
		old, err := s.Store.AlertNotifier(r.Context(), b.Name)
		if err != nil {
			return alert.Notifier{}, err
		}
		kept = old.Secrets()
	}
	n := alert.Notifier{Name: b.Name, Description: b.Description, Type: b.Type, SkipResolved: b.SkipResolved, Version: b.Version}
	if b.Webhook != nil {
		n.Webhook = &alert.Webhook{URL: alert.RestoreURL(b.Webhook.URL, kept, s.Fingerprinter), Authorization: kept.Authorization}
		if b.Webhook.Authorization != nil {
			n.Webhook.Authorization = *b.Webhook.Authorization
		}
	}
	if e := b.Email; e != nil {
		n.Email = &alert.Email{Smarthost: e.Smarthost, From: e.From, To: e.To, Username: e.Username,
			Password: kept.Password, RequireTLS: e.RequireTLS}
		if e.Password != nil {
			n.Email.Password = *e.Password
		}
	}
	return n, n.Validate()
}

// notifierShown is a notifier as answers show it (see alert.Notifier.Redacted).
func (s *server) notifierShown(n alert.Notifier) alert.Notifier { return n.Redacted(s.Fingerprinter) }

// testNotifier sends a test notification through a stored notifier.
func (s *server) testNotifier(w http.ResponseWriter, r *http.Request) {
	if s.Alerts == nil {
		s.writeError(w, r, notWired("alerting"))
		return
	}
	if err := decodeOptional(r, &struct{}{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	n, err := s.Store.AlertNotifier(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	d := s.Alerts.Test(r.Context(), n)
	_ = s.Store.Audit(r.Context(), store.AuditEntry{Actor: auth.Actor(r.Context()), Action: "notifier.test", Target: n.Name,
		Detail: map[bool]string{true: "delivered", false: "failed"}[d.OK]})
	writeJSON(w, http.StatusOK, d)
}

// alertStates answers every rule's current state; without an evaluator
// a rule with an open incident reads firing and the others unknown.
func (s *server) alertStates(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.Query()) > 0 {
		s.writeError(w, r, fieldError(firstKey(r), "unknown parameter (this endpoint takes none)"))
		return
	}
	if s.Alerts != nil {
		writeItems(w, s.Alerts.States())
		return
	}
	rules, err := s.Store.AlertRules(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	open, err := s.Store.OpenIncidents(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	firing := map[string]alert.Incident{}
	for _, in := range open {
		firing[in.Rule] = in
	}
	out := make([]alert.State, 0, len(rules))
	for _, rule := range rules {
		st := alert.State{Rule: rule.Name, State: alert.StateUnknown}
		if in, ok := firing[rule.Name]; ok {
			t := in.StartedAt
			st.State, st.Since, st.Incident = alert.StateFiring, &t, in.ID
		} else if rule.Disabled {
			st.State = alert.StateDisabled
		}
		out = append(out, st)
	}
	writeItems(w, out)
}

func firstKey(r *http.Request) string {
	for k := range r.URL.Query() {
		return k
	}
	return ""
}

// alertHistory lists incidents newest first: ?rule= narrows to one rule,
// ?limit= sizes the page, ?before= (an incident id, the "next" of the
// previous page) continues.
func (s *server) alertHistory(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	var p model.Problems
	for k := range v {
		if k != "rule" && k != "limit" && k != "before" {
			p.Add(k, "unknown parameter (known: rule, limit, before)")
		}
	}
	rule := v.Get("rule")
	if rule != "" {
		model.CheckName(&p, "rule", rule)
	}
	limit, before := store.DefaultPageSize, int64(0)
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			p.Add("limit", "must be a positive integer")
		}
		limit = min(n, store.MaxPageSize)
	}
	if b := v.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 1 {
			p.Add("before", "must be an incident id")
		}
		before = n
	}
	if err := p.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	items, err := s.Store.Incidents(r.Context(), rule, before, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := listResponse[alert.Incident]{Items: items, Limit: limit, MaxLimit: store.MaxPageSize}
	if len(items) == limit {
		resp.Next = strconv.FormatInt(items[len(items)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, resp)
}
