// Package convert reads Kubernetes routing objects (Gateway API Gateways,
// HTTPRoutes and GRPCRoutes, and networking.k8s.io/v1 Ingresses) and turns
// them into routedeck Routes and Upstreams for one gateway (and the gateway
// itself, from a Gateway): the inverse of the Gateway API export in
// backend/publish/kubernetes.
//
// OpenAPI 3.x documents are read too (see OpenAPI): one Route per path,
// all forwarding to one existing Upstream, with their own precedence rule.
// So are Kong declarative configurations (see Kong): services, routes,
// upstreams and the plugins that have a routedeck policy, prioritised in
// the order of Kong's router rather than by the rule below.
//
// Precedence. Gateway API and Ingress do not apply rules in file order:
// among the matches that fit a request, the most specific wins. routedeck
// tries rules by priority, so every match becomes its own Route and the
// priorities are computed from specificity, in this order of significance:
//
//  1. hostnames: for Ingress, rules with only exact hostnames, then those
//     with a wildcard, then those with none; for the Gateway API, which
//     ranks by the matching hostname, one Route per hostname, ordered by
//     the characters of an exact hostname, then of any hostname (Envoy
//     picks the most specific virtual host before it looks at paths);
//  2. an Exact path before any prefix or regex;
//  3. the longer path value (for prefixes: the longest prefix);
//  4. a method match before none;
//  5. more header matches;
//  6. more query parameter matches;
//  7. then, as the spec's last tie-breakers, namespace/name and the rule's
//     and match's position in the object.
//
// Every Route gets its own priority (10 apart, so rules can be inserted by
// hand between them); an Ingress defaultBackend becomes a catch-all with
// priority 0. Regular-expression paths have no defined precedence in the
// spec; they rank after exact paths by the length of the expression.
//
// What has no routedeck equivalent is listed in the Report, never dropped
// silently.
package convert

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/routedeck/routedeck/backend/input"
	"github.com/routedeck/routedeck/backend/model"
)

// Issue is one thing of the input that did not translate, or translated
// with different semantics.
type Issue struct {
	// Object is "Kind namespace/name" of the Kubernetes object, or for
	// OpenAPI "path /pets/{petId}" or "servers[0]".
	Object string `json:"object"`
	// Field is the path inside the object, e.g. "spec.rules[0].filters[1]".
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (i Issue) String() string {
	if i.Field == "" {
		return i.Object + ": " + i.Message
	}
	return i.Object + ": " + i.Field + ": " + i.Message
}

// Result is the converted workspace (routes and upstreams; the gateway
// too when the input describes it, as a Gateway API Gateway does) and the
// report of what did not translate.
type Result struct {
	Workspace model.Workspace
	Report    []Issue
}

// document is one YAML document of the input, decoded as JSON so the
// Kubernetes structs can use their JSON tags.
type document struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	raw []byte
	// route is a Gateway API route (*httpRoute or *grpcRoute) decoded
	// straight from the nodes; raw is then not written.
	route any
}

func (d document) ref() string {
	return d.Kind + " " + d.namespace() + "/" + d.Metadata.Name
}

func (d document) namespace() string {
	if d.Metadata.Namespace == "" {
		return "default"
	}
	return d.Metadata.Namespace
}

// splitDocuments decodes every non-empty document of a multi-document YAML
// stream, held to the input limits; a `kind: List` is flattened into its
// items.
func splitDocuments(data []byte) ([]document, error) {
	nodes, err := input.YAML("", data)
	if input.IsLimit(err) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("document %d: %w", len(nodes)+1, err)
	}
	// Documents convert independently: spread them over the processors,
	// then gather them in order.
	parts := make([][]document, len(nodes))
	errs := make([]error, len(nodes))
	workers := min(runtime.GOMAXPROCS(0), len(nodes)/64+1)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(nodes); i += workers {
				parts[i], errs[i] = decodeDocument(i, nodes[i])
			}
		})
	}
	wg.Wait()
	var out []document
	for i := range nodes {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out = append(out, parts[i]...)
	}
	return out, nil
}

// decodeDocument decodes document i of a stream; a `kind: List` gives its
// items.
func decodeDocument(i int, n *yaml.Node) ([]document, error) {
	// A Gateway API route, most of a large import, is decoded from the
	// nodes when they say all there is to say.
	var head document
	if decodeNode(n, reflect.ValueOf(&head).Elem()) && strings.HasPrefix(head.APIVersion, "gateway.networking.k8s.io/") &&
		(head.Kind == "HTTPRoute" || head.Kind == "GRPCRoute") {
		route := reflect.ValueOf(newRoute(head.Kind))
		if decodeNode(n, route.Elem()) {
			head.route = route.Interface()
			return []document{head}, nil
		}
	}
	var buf bytes.Buffer
	raw := []byte(nil)
	if nodeJSON(&buf, n) {
		raw = buf.Bytes()
	} else {
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
	}
	if string(raw) == "null" {
		return nil, nil
	}
	// The header is decoded from the members it is made of, not from the
	// whole document: what decoding reads of it is the same.
	header := raw
	if h, ok := headerJSON(n); ok {
		header = h
	}
	var d document
	if err := json.Unmarshal(header, &d); err != nil {
		return nil, fmt.Errorf("document %d: %w", i+1, err)
	}
	if d.Kind != "List" {
		d.raw = raw
		return []document{d}, nil
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("document %d: items: %w", i+1, err)
	}
	var out []document
	for _, it := range list.Items {
		var d document
		if err := json.Unmarshal(it, &d); err != nil {
			return nil, fmt.Errorf("document %d: items: %w", i+1, err)
		}
		d.raw = it
		out = append(out, d)
	}
	return out, nil
}

// nodeJSON writes n as JSON straight from the parsed nodes, which costs a
// fraction of decoding it into Go values and encoding those. It gives up
// (false) on what only the decoder handles as the decoder does: merge keys,
// duplicate keys, and scalars other than strings, booleans, null and
// plain numbers.
func nodeJSON(b *bytes.Buffer, n *yaml.Node) bool {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			b.WriteString("null")
			return true
		}
		return nodeJSON(b, n.Content[0])
	case yaml.MappingNode:
		b.WriteByte('{')
		var seen map[string]bool
		if len(n.Content) > 16 {
			seen = make(map[string]bool, len(n.Content)/2)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
				return false
			}
			if seen != nil {
				if seen[k.Value] {
					return false
				}
				seen[k.Value] = true
			} else {
				for j := 0; j < i; j += 2 {
					if n.Content[j].Value == k.Value {
						return false
					}
				}
			}
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k.Value)
			b.WriteByte(':')
			if !nodeJSON(b, n.Content[i+1]) {
				return false
			}
		}
		b.WriteByte('}')
		return true
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if !nodeJSON(b, c) {
				return false
			}
		}
		b.WriteByte(']')
		return true
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			writeJSONString(b, n.Value)
			return true
		case "!!null":
			b.WriteString("null")
			return true
		case "!!bool":
			var v bool
			if n.Decode(&v) != nil {
				return false
			}
			b.WriteString(strconv.FormatBool(v))
			return true
		case "!!int":
			v, err := strconv.ParseInt(n.Value, 10, 64)
			if err != nil {
				return false // 0x, 0o, _ separators, too large: the decoder's job
			}
			b.WriteString(strconv.FormatInt(v, 10))
			return true
		case "!!float":
			v, err := strconv.ParseFloat(n.Value, 64)
			if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
				return false
			}
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
			return true
		}
	}
	return false
}

// headerJSON writes the members of document n that decoding a document
// header reads: those whose key is, but for case, a field of document
// (encoding/json takes "Kind" for kind), and any key outside ASCII, whose
// case folding is encoding/json's to judge. It gives up (false) where
// nodeJSON would.
func headerJSON(n *yaml.Node) ([]byte, bool) {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil, false
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if !headerKey(k) {
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		writeJSONString(&b, k)
		b.WriteByte(':')
		if !nodeJSON(&b, n.Content[i+1]) {
			return nil, false
		}
	}
	b.WriteByte('}')
	return b.Bytes(), true
}

func headerKey(k string) bool {
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8.RuneSelf {
			return true
		}
	}
	return strings.EqualFold(k, "apiVersion") || strings.EqualFold(k, "kind") || strings.EqualFold(k, "metadata")
}

// writeJSONString writes s as a JSON string, as encoding/json writes it:
// <, > and & escaped for HTML, invalid UTF-8 as \ufffd, and U+2028 and
// U+2029 escaped.
func writeJSONString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(s[start:i])
			b.WriteString(`\ufffd`)
		case r == '\u2028' || r == '\u2029':
			b.WriteString(s[start:i])
			b.WriteString(`\u202`)
			b.WriteByte(hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

// builder collects converted routes with their precedence keys and the
// upstreams they use.
type builder struct {
	gateway   string
	routes    []candidate
	upstreams map[string]model.Upstream
	report    []Issue
	catchAll  []model.Route
	// Gateway API only: the Gateway the routes attach to, and the
	// routedeck gateway made of it.
	source     *source
	gatewayOut *model.Gateway
	secrets    map[string]bool
	// services holds "namespace/name" of the input's Services; nil when
	// it has none, and every backendRef is taken to resolve.
	services map[string]bool
}

// candidate is a route before its priority is known.
type candidate struct {
	route model.Route
	key   specificity
}

// specificity orders matches as the Gateway API spec does; see the
// package documentation.
type specificity struct {
	hostTier int // 2 exact hostnames only, 1 some wildcard, 0 none
	// Gateway API: the characters of the matching exact hostname, then
	// of the matching hostname (routes are split per hostname).
	exactHostLen, hostLen int
	exactPath             bool
	pathLen               int
	method                bool
	headers               int
	queries               int
	tie                   []string // namespace, name; then positions
	tiePos                []int
}

// moreSpecific reports whether a should be tried before b.
func moreSpecific(a, b specificity) int {
	for _, c := range []int{b.hostTier - a.hostTier, b.exactHostLen - a.exactHostLen, b.hostLen - a.hostLen} {
		if c != 0 {
			return c
		}
	}
	if a.exactPath != b.exactPath {
		if a.exactPath {
			return -1
		}
		return 1
	}
	for _, c := range []int{b.pathLen - a.pathLen, boolInt(b.method) - boolInt(a.method), b.headers - a.headers, b.queries - a.queries} {
		if c != 0 {
			return c
		}
	}
	if c := slices.Compare(a.tie, b.tie); c != 0 {
		return c
	}
	return slices.Compare(a.tiePos, b.tiePos)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func newBuilder(gateway string) *builder {
	return &builder{gateway: gateway, upstreams: map[string]model.Upstream{}}
}

func (b *builder) issue(obj, field, format string, args ...any) {
	b.report = append(b.report, Issue{Object: obj, Field: field, Message: fmt.Sprintf(format, args...)})
}

// upstream returns the name of the Upstream for a Service port, creating it
// on first use.
func (b *builder) upstream(namespace, service string, port int) string {
	name := Name(fmt.Sprintf("%s-%s-%d", service, namespace, port))
	if _, ok := b.upstreams[name]; !ok {
		b.upstreams[name] = model.Upstream{Meta: model.Meta{Name: name},
			Kubernetes: &model.KubernetesSource{Namespace: namespace, Service: service, Port: port}}
	}
	return name
}

// result assigns priorities and returns the workspace in apply order.
func (b *builder) result() Result {
	// The candidates are large: their order is sorted, not they.
	order := make([]int, len(b.routes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return moreSpecific(b.routes[x].key, b.routes[y].key) })
	var ws model.Workspace
	if b.gatewayOut != nil {
		ws.Gateways = []model.Gateway{*b.gatewayOut}
	}
	ws.Routes = make([]model.Route, 0, len(b.routes)+len(b.catchAll))
	for i, c := range order {
		r := b.routes[c].route
		r.Priority = (len(b.routes) - i) * 10
		ws.Routes = append(ws.Routes, r)
	}
	ws.Routes = append(ws.Routes, b.catchAll...)
	for _, name := range slices.Sorted(maps.Keys(b.upstreams)) {
		ws.Upstreams = append(ws.Upstreams, b.upstreams[name])
	}
	return Result{Workspace: ws, Report: b.report}
}

// Name turns s into a valid routedeck object name: lowercase letters,
// digits, '-' and '.', at most 63 characters. Names that had to be
// shortened end in a hash of s, so distinct inputs stay distinct.
func Name(s string) string {
	var sb strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			sb.WriteRune(r)
		default:
			sb.WriteByte('-')
		}
	}
	n := strings.Trim(sb.String(), "-.")
	if n == "" {
		n = "x"
	}
	const maxLen = 63
	if len(n) > maxLen {
		sum := sha256.Sum256([]byte(s))
		n = strings.TrimRight(n[:maxLen-9], "-.") + "-" + hex.EncodeToString(sum[:])[:8]
	}
	return n
}

// hostCondition is "any of" the hostnames, and its precedence tier.
func hostCondition(hosts []string) (model.Condition, int, bool) {
	if len(hosts) == 0 {
		return model.Condition{}, 0, false
	}
	tier := 2
	var cs []model.Condition
	for _, h := range hosts {
		if strings.HasPrefix(h, "*") {
			tier = 1
		}
		cs = append(cs, model.Pred(model.FieldHost, model.OpEquals, h))
	}
	if len(cs) == 1 {
		return cs[0], tier, true
	}
	return model.Or(cs...), tier, true
}

// all joins conditions; one stays itself so rewrites find their path
// predicate at the top level.
func all(cs []model.Condition) model.Condition {
	if len(cs) == 1 {
		return cs[0]
	}
	return model.And(cs...)
}

// segmentPrefix matches whole path segments under prefix (a trailing slash
// already trimmed); "/" covers every path, which routedeck spells as a
// plain prefix.
func segmentPrefix(prefix string) model.Condition {
	if prefix == "/" {
		return model.Pred(model.FieldPath, model.OpPrefix, "/")
	}
	return model.Pred(model.FieldPath, model.OpSegmentPrefix, prefix)
}

// convertDocuments is the loop of the Kubernetes importers: every document
// of data that accept keeps is decoded into T and handed to add; the others
// are reported as skipped (only names what is imported). Documents that do
// not decode are refused all together.
func convertDocuments[T any](data []byte, gateway, only string, accept func(document) bool, add func(*builder, document, T)) (Result, error) {
	docs, err := splitDocuments(data)
	if err != nil {
		return Result{}, err
	}
	b := newBuilder(gateway)
	var bad model.Problems
	for _, d := range docs {
		if !accept(d) {
			b.issue(d.ref(), "", "skipped: only %s are imported (apiVersion %s)", only, d.APIVersion)
			continue
		}
		var obj T
		if err := json.Unmarshal(d.raw, &obj); err != nil {
			decodeProblem(&bad, d.ref()+":", err)
			continue
		}
		add(b, d, obj)
	}
	if err := bad.Err(); err != nil {
		return Result{}, err
	}
	return b.result(), nil
}

// decodeProblem records a decoding error of the entity at prefix (a field
// path, or a document reference ending in ":") in the file's terms: where,
// and what it must be; not Go's.
func decodeProblem(p *model.Problems, prefix string, err error) {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		p.Add(prefix, "%v", err)
		return
	}
	field := strings.TrimPrefix(te.Field, ".")
	if strings.HasSuffix(prefix, ":") {
		// A document reference ("HTTPRoute shop/web:"), not a path.
		field = prefix + " " + field
	} else {
		field = model.JoinPath(prefix, field)
	}
	p.Add(field, "must be %s, not %s", yamlType(te.Type), jsonKind(te.Value))
}

// yamlType names what a Go field holds as a YAML author would.
func yamlType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if e := t.Elem(); e.Kind() == reflect.String {
			return "a list of strings"
		}
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Pointer:
		return yamlType(t.Elem())
	}
	return t.String()
}

// jsonKind names a JSON value kind as its YAML counterpart.
func jsonKind(v string) string {
	switch v {
	case "array":
		return "a list"
	case "object":
		return "a mapping"
	case "bool":
		return "true or false"
	}
	if strings.HasPrefix(v, "number") {
		return "a number"
	}
	return "a " + v
}

// remarshal decodes a generic YAML value into a typed struct through JSON.
func remarshal(v any, into any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}
