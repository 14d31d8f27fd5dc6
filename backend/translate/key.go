package translate

import (
	"encoding/binary"
	"maps"
	"math"
	"slices"

	"github.com/routedeck/routedeck/backend/model"
)

// keyEncoder writes model objects into a compact byte string that changes
// whenever anything the translation depends on changes. The Translator
// compares these keys to reuse the routes of unchanged rules and the
// clusters of unchanged upstreams; it is much cheaper than JSON, which keeps
// a one-rule edit fast on a gateway of thousands. Every field of the model
// types must be written here (TestKeyCoversEveryField checks it).
type keyEncoder struct{ b []byte }

func (e *keyEncoder) reset() { e.b = e.b[:0] }

func (e *keyEncoder) str(s string) {
	if len(s) < 0x80 {
		// The one-byte uvarint of a short length, without the loop.
		e.b = append(e.b, byte(len(s)))
	} else {
		e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	}
	e.b = append(e.b, s...)
}

func (e *keyEncoder) bytes(b []byte) {
	e.b = binary.AppendUvarint(e.b, uint64(len(b)))
	e.b = append(e.b, b...)
}

func (e *keyEncoder) int(i int64) { e.b = binary.AppendVarint(e.b, i) }

func (e *keyEncoder) bool(v bool) {
	if v {
		e.b = append(e.b, 'T')
	} else {
		e.b = append(e.b, 'F')
	}
}

func (e *keyEncoder) float(f float64) { e.int(int64(math.Float64bits(f))) }

func (e *keyEncoder) dur(d model.Duration) { e.int(int64(d)) }

// present writes whether an optional part is set, so nil and empty differ.
func (e *keyEncoder) present(set bool) bool {
	e.bool(set)
	return set
}

func (e *keyEncoder) strs(list []string) {
	e.int(int64(len(list)))
	for _, s := range list {
		e.str(s)
	}
}

func (e *keyEncoder) ints(list []int) {
	e.int(int64(len(list)))
	for _, v := range list {
		e.int(int64(v))
	}
}

func (e *keyEncoder) strMap(m map[string]string) {
	e.int(int64(len(m)))
	switch len(m) {
	case 0:
		return
	case 1:
		// The common header policy sets one header: no order to fix, so
		// no sorted copy of the keys.
		for k, v := range m {
			e.str(k)
			e.str(v)
		}
		return
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		e.str(k)
		e.str(m[k])
	}
}

// Which optional parts of a condition node are set (condition writes
// only those): a plain predicate, the bulk of every rule, is then one
// byte and its three strings. nil and empty lists differ, as they do to
// expand, which refuses an empty all or any.
const (
	condAll = 1 << iota
	condAny
	condNot
	condValues
	condIgnoreCase
	condText
)

func (e *keyEncoder) condition(c *model.Condition) {
	var set byte
	if c.All != nil {
		set |= condAll
	}
	if c.Any != nil {
		set |= condAny
	}
	if c.Not != nil {
		set |= condNot
	}
	if c.Values != nil {
		set |= condValues
	}
	if c.IgnoreCase {
		set |= condIgnoreCase
	}
	if c.Text != "" {
		set |= condText
	}
	e.b = append(e.b, set)
	if set&condAll != 0 {
		e.int(int64(len(c.All)))
		for i := range c.All {
			e.condition(&c.All[i])
		}
	}
	if set&condAny != 0 {
		e.int(int64(len(c.Any)))
		for i := range c.Any {
			e.condition(&c.Any[i])
		}
	}
	if set&condNot != 0 {
		e.condition(c.Not)
	}
	e.str(c.Field)
	e.str(c.Op)
	e.str(c.Value)
	if set&condValues != 0 {
		e.strs(c.Values)
	}
	if set&condText != 0 {
		e.str(c.Text)
	}
}

func (e *keyEncoder) headerPolicy(h *model.HeaderPolicy) {
	if !e.present(h != nil) {
		return
	}
	for _, m := range []*model.HeaderMutation{h.Request, h.Response} {
		if e.present(m != nil) {
			e.strMap(m.Set)
			e.strMap(m.Add)
			e.strMap(m.AddIfAbsent)
			e.strs(m.Remove)
		}
	}
}

func (e *keyEncoder) respond(r *model.Respond) {
	if e.present(r != nil) {
		e.int(int64(r.Status))
		e.str(r.Body)
		e.strMap(r.Headers)
	}
}

// route writes everything about a rule except Meta.Version and the audit
// fields, which do not change the Envoy output.
func (e *keyEncoder) route(r *model.Route) {
	e.str(r.Name)
	e.str(r.Gateway)
	e.strs(r.Listeners)
	e.int(int64(r.Priority))
	e.bool(r.Disabled)
	e.condition(&r.When)
	a := &r.Then
	e.int(int64(len(a.Forward)))
	for _, b := range a.Forward {
		e.str(b.Upstream)
		e.int(int64(b.Weight))
		e.headerPolicy(b.Headers)
	}
	// Two bytes say which optional parts of the action are set; only
	// those are written. Most rules only forward, and every rule's key is
	// encoded on every translation.
	var set uint16
	for i, ok := range [...]bool{a.Redirect != nil, a.Respond != nil, a.Rewrite != nil, a.Headers != nil,
		a.Timeout != 0, a.IdleTimeout != 0, a.Retries != nil, a.Auth != nil, a.Websocket, a.Mirror != nil} {
		if ok {
			set |= 1 << i
		}
	}
	e.b = append(e.b, byte(set), byte(set>>8))
	if rd := a.Redirect; rd != nil {
		e.str(rd.Scheme)
		e.str(rd.Host)
		e.int(int64(rd.Port))
		e.str(rd.Path)
		e.str(rd.PathPrefix)
		e.bool(rd.StripQuery)
		e.int(int64(rd.Status))
	}
	if a.Respond != nil {
		e.respond(a.Respond)
	}
	if rw := a.Rewrite; rw != nil {
		e.str(rw.PathPrefix)
		if e.present(rw.PathRegex != nil) {
			e.str(rw.PathRegex.Pattern)
			e.str(rw.PathRegex.Substitution)
		}
		e.str(rw.PathTemplate)
		e.str(rw.Host)
		e.str(rw.HostFromHeader)
		e.bool(rw.AutoHost)
	}
	if a.Headers != nil {
		e.headerPolicy(a.Headers)
	}
	if a.Timeout != 0 {
		e.dur(a.Timeout)
	}
	if a.IdleTimeout != 0 {
		e.dur(a.IdleTimeout)
	}
	if rt := a.Retries; rt != nil {
		e.int(int64(rt.Attempts))
		e.strs(rt.On)
		e.ints(rt.StatusCodes)
		e.dur(rt.PerTryTimeout)
		e.dur(rt.BackoffBase)
		e.dur(rt.BackoffMax)
	}
	// The auth methods are keyed by their policies; that one is set
	// (Auth{} is an error) is keyed by its bit, as websocket is.
	if m := a.Mirror; m != nil {
		e.str(m.Upstream)
		e.float(m.Percent)
	}
	for _, p := range httpPolicies {
		p.key(e, a)
	}
}

// upstreamRef writes what a rule's routes depend on in an upstream it names:
// whether it exists and its consistent-hash key.
func (e *keyEncoder) upstreamRef(u *model.Upstream) {
	if !e.present(u != nil) {
		return
	}
	if lb := u.LoadBalancer; e.present(lb != nil && lb.HashOn != nil) {
		e.str(lb.HashOn.Header)
		e.str(lb.HashOn.Cookie)
		e.bool(lb.HashOn.SourceIP)
	}
}

func (e *keyEncoder) endpoints(eps []model.Endpoint) {
	e.int(int64(len(eps)))
	for _, ep := range eps {
		e.str(ep.Address)
		e.int(int64(ep.Port))
		e.int(int64(ep.Weight))
	}
}

// upstream writes everything about an upstream that shapes its cluster.
func (e *keyEncoder) upstream(u *model.Upstream) {
	e.str(u.Name)
	if e.present(u.Static != nil) {
		e.endpoints(u.Static.Endpoints)
	}
	if d := u.DNS; e.present(d != nil) {
		e.str(d.Host)
		e.int(int64(d.Port))
	}
	if k := u.Kubernetes; e.present(k != nil) {
		e.str(k.Namespace)
		e.str(k.Service)
		e.int(int64(k.Port))
		e.str(k.Context)
	}
	if c := u.Consul; e.present(c != nil) {
		e.str(c.Service)
		e.strs(c.Tags)
		e.str(c.Datacenter)
		if e.present(c.PassingOnly != nil) {
			e.bool(*c.PassingOnly)
		}
	}
	e.str(u.Protocol)
	if lb := u.LoadBalancer; e.present(lb != nil) {
		e.str(lb.Policy)
		e.upstreamRef(u)
	}
	e.dur(u.ConnectTimeout)
	if hc := u.HealthCheck; e.present(hc != nil) {
		e.str(hc.Path)
		e.dur(hc.Interval)
		e.dur(hc.Timeout)
		e.int(int64(hc.HealthyThreshold))
		e.int(int64(hc.UnhealthyThreshold))
		e.ints(hc.ExpectedStatuses)
	}
	if od := u.OutlierDetection; e.present(od != nil) {
		e.int(int64(od.Consecutive5xx))
		e.dur(od.Interval)
		e.dur(od.BaseEjectionTime)
		e.int(int64(od.MaxEjectionPercent))
	}
	if cb := u.CircuitBreaker; e.present(cb != nil) {
		e.int(int64(cb.MaxConnections))
		e.int(int64(cb.MaxPendingRequests))
		e.int(int64(cb.MaxRequests))
		e.int(int64(cb.MaxRetries))
		if rb := cb.RetryBudget; e.present(rb != nil) {
			e.float(rb.BudgetPercent)
			e.int(int64(rb.MinRetryConcurrency))
		}
	}
	if t := u.TLS; e.present(t != nil) {
		e.str(t.SNI)
		e.str(t.CASecret)
		e.bool(t.InsecureSkipVerify)
	}
}
