package difftest

import (
	"cmp"
	"flag"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/convert"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/sandbox/sim"
)

var (
	flagGWSets = flag.Int("difftest.gwapi-sets", 400, "random HTTPRoute sets in the Gateway API differential test")
	flagGWReqs = flag.Int("difftest.gwapi-requests", 50, "random requests per HTTPRoute set")
)

// The Gateway API half of the differential test: random HTTPRoutes, routed
// by a small reference of what the Gateway API specification says
// (hostname intersection with the listener, the precedence of matches
// across routes, ReplacePrefixMatch) and by the simulated Envoy running
// what routedeck imports and translates. They must agree on the route,
// rule and Service that get a request, the path the Service receives, and
// on the requests nothing matches (404).

type gwRoute struct {
	name      string
	hostnames []string
	rules     []gwRule
}

type gwRule struct {
	matches []gwMatch
	service string
	replace *string // URLRewrite ReplacePrefixMatch, with PathPrefix matches only
}

type gwMatch struct {
	pathType, path string
	method         string
	headers        map[string]string
	query          map[string]string
}

var (
	gwListenerHosts = []string{"", "", "*.example.com"}
	gwHostnames     = []string{"a.example.com", "*.example.com", "b.a.example.com", "*.a.example.com", "other.org"}
	gwPaths         = []string{"/", "/a", "/a/", "/a/b", "/b", "/ab"}
	gwReplacements  = []string{"/", "", "/x", "/x/", "/x/y"}
	gwReqHosts      = []string{"a.example.com", "b.a.example.com", "c.b.a.example.com", "example.com", "other.org", "x.example.com:8080", "A.EXAMPLE.COM"}
	gwReqPaths      = []string{"/", "/a", "/a/", "/a/b", "/a/b/c", "/ab", "/b", "/b/", "/a?q=1", "/a/b?q=2&x=1"}
)

func randomGatewayAPI(r *rand.Rand) (listenerHost string, routes []gwRoute) {
	listenerHost = gwListenerHosts[r.IntN(len(gwListenerHosts))]
	for i := range 1 + r.IntN(4) {
		rt := gwRoute{name: fmt.Sprintf("rt%d", i)}
		for range r.IntN(3) {
			h := gwHostnames[r.IntN(len(gwHostnames))]
			if !slices.ContainsFunc(rt.hostnames, func(x string) bool { return strings.EqualFold(x, h) }) {
				rt.hostnames = append(rt.hostnames, h)
			}
		}
		for range 1 + r.IntN(3) {
			rule := gwRule{service: fmt.Sprintf("svc%d", r.IntN(3))}
			allPrefix := true
			for range r.IntN(3) { // 0 matches: every request
				m := gwMatch{pathType: []string{"Exact", "PathPrefix", "PathPrefix"}[r.IntN(3)], path: gwPaths[r.IntN(len(gwPaths))]}
				if m.pathType == "PathPrefix" && m.path == "/" {
					allPrefix = false // "/" has no defined ReplacePrefixMatch
				}
				if m.pathType != "PathPrefix" {
					allPrefix = false
				}
				if r.IntN(4) == 0 {
					m.method = []string{"GET", "POST"}[r.IntN(2)]
				}
				if r.IntN(3) == 0 {
					m.headers = map[string]string{[]string{"x-h", "X-H", "x-g"}[r.IntN(3)]: strconv.Itoa(r.IntN(2))}
				}
				if r.IntN(4) == 0 {
					m.query = map[string]string{"q": strconv.Itoa(1 + r.IntN(2))}
				}
				rule.matches = append(rule.matches, m)
			}
			if allPrefix && len(rule.matches) > 0 && r.IntN(2) == 0 {
				rp := gwReplacements[r.IntN(len(gwReplacements))]
				rule.replace = &rp
			}
			rt.rules = append(rt.rules, rule)
		}
		routes = append(routes, rt)
	}
	return listenerHost, routes
}

func gatewayAPIYAML(listenerHost string, routes []gwRoute) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  listeners:\n  - {name: http, port: 80, protocol: HTTP")
	if listenerHost != "" {
		fmt.Fprintf(&b, ", hostname: %q", listenerHost)
	}
	b.WriteString("}\n")
	for _, rt := range routes {
		fmt.Fprintf(&b, "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: %s}\nspec:\n  parentRefs: [{name: gw}]\n", rt.name)
		if len(rt.hostnames) > 0 {
			fmt.Fprintf(&b, "  hostnames: [%s]\n", quoteAll(rt.hostnames))
		}
		b.WriteString("  rules:\n")
		for _, rule := range rt.rules {
			fmt.Fprintf(&b, "  - backendRefs: [{name: %s, port: 8080}]\n", rule.service)
			if rule.replace != nil {
				fmt.Fprintf(&b, "    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: %q}}}]\n", *rule.replace)
			}
			if len(rule.matches) == 0 {
				continue
			}
			b.WriteString("    matches:\n")
			for _, m := range rule.matches {
				fmt.Fprintf(&b, "    - path: {type: %s, value: %q}\n", m.pathType, m.path)
				if m.method != "" {
					fmt.Fprintf(&b, "      method: %s\n", m.method)
				}
				for _, k := range sortedKeys(m.headers) {
					fmt.Fprintf(&b, "      headers: [{name: %s, value: %q}]\n", k, m.headers[k])
				}
				for _, k := range sortedKeys(m.query) {
					fmt.Fprintf(&b, "      queryParams: [{name: %s, value: %q}]\n", k, m.query[k])
				}
			}
		}
	}
	for i := range 3 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Service\nmetadata: {name: svc%d}\n", i)
	}
	return []byte(b.String())
}

func quoteAll(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}

type gwRequest struct {
	method, host, path string
	headers            map[string]string
}

func (q gwRequest) String() string {
	return fmt.Sprintf("%s http://%s%s %v", q.method, q.host, q.path, q.headers)
}

func randomGWRequest(r *rand.Rand) gwRequest {
	q := gwRequest{method: []string{"GET", "POST"}[r.IntN(2)], host: gwReqHosts[r.IntN(len(gwReqHosts))],
		path: gwReqPaths[r.IntN(len(gwReqPaths))], headers: map[string]string{}}
	for _, h := range []string{"x-h", "x-g"} {
		if r.IntN(2) == 0 {
			q.headers[h] = strconv.Itoa(r.IntN(2))
		}
	}
	return q
}

// gwOutcome is who gets a request and the path it receives; "" route for
// a 404.
type gwOutcome struct {
	Route   string
	Rule    int
	Service string
	Path    string
}

// referenceRoute is what the Gateway API specification says of q.
func referenceRoute(listenerHost string, routes []gwRoute, q gwRequest) gwOutcome {
	host := strings.ToLower(q.host)
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	path, query, _ := strings.Cut(q.path, "?")
	type cand struct {
		exactHost, hostChars int
		exact                bool
		pathChars            int
		method               bool
		headers, queries     int
		route                string
		rule, match          int
		prefix               string
	}
	var best *cand
	better := func(a, b cand) bool {
		c := cmp.Or(cmp.Compare(b.exactHost, a.exactHost), cmp.Compare(b.hostChars, a.hostChars))
		if c == 0 && a.exact != b.exact {
			return a.exact
		}
		c = cmp.Or(c, cmp.Compare(b.pathChars, a.pathChars))
		if c == 0 && a.method != b.method {
			return a.method
		}
		c = cmp.Or(c, cmp.Compare(b.headers, a.headers), cmp.Compare(b.queries, a.queries),
			cmp.Compare(a.route, b.route), cmp.Compare(a.rule, b.rule), cmp.Compare(a.match, b.match))
		return c < 0
	}
	for _, rt := range routes {
		// The hostnames the route has on the listener, and the one of them
		// the request matches with the most precedence.
		hosts := rt.hostnames
		if listenerHost != "" {
			if len(hosts) == 0 {
				hosts = []string{listenerHost}
			} else {
				var kept []string
				for _, h := range hosts {
					switch {
					case within(h, listenerHost):
						kept = append(kept, h)
					case within(listenerHost, h):
						kept = append(kept, listenerHost)
					}
				}
				if len(kept) == 0 {
					continue // not attached
				}
				hosts = kept
			}
		}
		exactHost, hostChars, hostOK := 0, 0, len(hosts) == 0
		for _, h := range hosts {
			if !specHostMatch(h, host) {
				continue
			}
			e := 0
			if !strings.HasPrefix(h, "*") {
				e = len(h)
			}
			if !hostOK || e > exactHost || e == exactHost && len(h) > hostChars {
				exactHost, hostChars = e, len(h)
			}
			hostOK = true
		}
		if !hostOK {
			continue
		}
		for ri, rule := range rt.rules {
			matches := rule.matches
			if len(matches) == 0 {
				matches = []gwMatch{{pathType: "PathPrefix", path: "/"}}
			}
			for mi, m := range matches {
				c := cand{exactHost: exactHost, hostChars: hostChars, pathChars: len(m.path), method: m.method != "",
					headers: len(m.headers), queries: len(m.query), route: rt.name, rule: ri, match: mi}
				switch m.pathType {
				case "Exact":
					c.exact = true
					if path != m.path {
						continue
					}
				case "PathPrefix":
					p := strings.TrimSuffix(m.path, "/")
					if p != "" && path != p && !strings.HasPrefix(path, p+"/") {
						continue
					}
					c.prefix = p
				}
				if m.method != "" && m.method != q.method {
					continue
				}
				ok := true
				for k, v := range m.headers {
					ok = ok && q.headers[strings.ToLower(k)] == v
				}
				for k, v := range m.query {
					ok = ok && queryValue(query, k) == v
				}
				if ok && (best == nil || better(c, *best)) {
					cc := c
					best = &cc
				}
			}
		}
	}
	if best == nil {
		return gwOutcome{}
	}
	var rule gwRule
	for _, rt := range routes {
		if rt.name == best.route {
			rule = rt.rules[best.rule]
		}
	}
	out := gwOutcome{Route: best.route, Rule: best.rule, Service: rule.service, Path: q.path}
	if rule.replace != nil {
		rest := path[len(best.prefix):]
		repl := *rule.replace
		if repl == "" || repl == "/" {
			path = "/" + strings.TrimLeft(rest, "/")
		} else {
			path = strings.TrimSuffix(repl, "/") + rest
		}
		out.Path = path
		if query != "" || strings.Contains(q.path, "?") {
			out.Path += "?" + query
		}
	}
	return out
}

// specHostMatch: a hostname matches itself (ignoring case), and
// "*.example.com" every name with one or more labels before .example.com.
func specHostMatch(pattern, host string) bool {
	pattern, host = strings.ToLower(pattern), strings.ToLower(host)
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		return strings.HasSuffix(host, suffix) && len(host) > len(suffix) && !strings.HasPrefix(host, ".")
	}
	return pattern == host
}

// within: every name h matches, p matches too.
func within(h, p string) bool {
	if h == p {
		return true
	}
	suffix, ok := strings.CutPrefix(p, "*")
	rest := strings.TrimPrefix(h, "*")
	return ok && strings.HasSuffix(rest, suffix) && len(rest) > len(suffix)
}

func queryValue(query, name string) string {
	for _, kv := range strings.Split(query, "&") {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return ""
}

var importedName = regexp.MustCompile(`^gw\.http\.default\.([^.]+)\.r(\d+)\.m\d+(\.h\d+)?$`)

// simRoute routes q through the simulated Envoy.
func simRoute(router *sim.Router, q gwRequest) gwOutcome {
	kv := []string{":scheme", "http", "x-forwarded-proto", "http"}
	for _, k := range sortedKeys(q.headers) {
		kv = append(kv, k, q.headers[k])
	}
	d := router.RouteWith(sim.NewRequest(q.method, q.host, q.path, kv...), 0, sim.RouteOptions{NoTrace: true})
	if d.Route == "" || d.Cluster == "" {
		return gwOutcome{}
	}
	rule, _ := translate.RuleOfRoute(d.Route)
	m := importedName.FindStringSubmatch(rule)
	if m == nil {
		return gwOutcome{Route: "unknown rule " + rule}
	}
	ri, _ := strconv.Atoi(m[2])
	path, _ := d.RequestHeaders.Get(":path")
	return gwOutcome{Route: m[1], Rule: ri, Service: strings.TrimSuffix(d.Cluster, "-default-8080"), Path: path}
}

// TestGatewayAPIDifferential compares the Gateway API specification's
// routing of random HTTPRoutes with the simulated Envoy running their
// import.
func TestGatewayAPIDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(*flagSeed, 3))
	compared, routed, failures := 0, 0, 0
	for set := 0; set < *flagGWSets && failures < 3; set++ {
		listenerHost, routes := randomGatewayAPI(r)
		doc := gatewayAPIYAML(listenerHost, routes)
		res, err := convert.GatewayAPI(doc, "gw")
		if err != nil {
			t.Fatalf("set %d: import: %v\n%s", set, err, doc)
		}
		ws := res.Workspace
		endpoints := map[string][]model.Endpoint{}
		for _, u := range ws.Upstreams {
			endpoints[u.Name] = []model.Endpoint{{Address: "127.0.0.1", Port: 9}}
		}
		tr, err := translate.Gateway(ws, "gw", translate.Options{Endpoints: endpoints})
		if err != nil {
			t.Fatalf("set %d: translate: %v\n%s", set, err, doc)
		}
		router, err := sim.New(tr.Routes[0], sim.Options{})
		if err != nil {
			t.Fatalf("set %d: the simulated Envoy refuses the translation: %v", set, err)
		}
		for range *flagGWReqs {
			q := randomGWRequest(r)
			want, got := referenceRoute(listenerHost, routes, q), simRoute(router, q)
			compared++
			if want.Route != "" {
				routed++
			}
			if want != got {
				failures++
				t.Errorf("set %d: %s\n  specification: %+v\n  envoy:         %+v\n%s", set, q, want, got, doc)
				break
			}
		}
	}
	if routed < compared/4 {
		t.Errorf("only %d of %d requests were routed: the random routes miss too much to test anything", routed, compared)
	}
	t.Logf("%d requests compared, %d routed", compared, routed)
}
