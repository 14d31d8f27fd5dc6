package checktool

import (
	"crypto/rand"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/routedeck/routedeck/sandbox/sim"
)

// routeKey identifies a covered route the way the tool does: each
// weighted cluster of a route counts as its own route.
type routeKey struct{ vh, route, weighted int }

type routeCoverage struct {
	entry                                              bool // forwarding route, else direct response
	cluster, vcluster, vhost, pathRewrite, hostRewrite bool
	redirectPath, redirectCode                         bool
}

func (r *routeCoverage) fraction() float64 {
	var fields []bool
	if r.entry {
		fields = []bool{r.cluster, r.vcluster, r.vhost, r.pathRewrite, r.hostRewrite}
	} else {
		fields = []bool{r.redirectPath, r.redirectCode}
	}
	n := 0
	for _, f := range fields {
		if f {
			n++
		}
	}
	return float64(n) / float64(len(fields))
}

type coverage struct {
	rc      *routev3.RouteConfiguration
	covered map[routeKey]*routeCoverage
	// names are the unique route names the tool assigns (name-uuid).
	names map[[2]int]string
}

func newCoverage(rc *routev3.RouteConfiguration) *coverage {
	c := &coverage{rc: rc, covered: map[routeKey]*routeCoverage{}, names: map[[2]int]string{}}
	for i, vh := range rc.GetVirtualHosts() {
		for j, r := range vh.GetRoutes() {
			c.names[[2]int{i, j}] = r.GetName() + "-" + uuid()
		}
	}
	return c
}

func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (c *coverage) mark(k routeKey, d *sim.Decision) *routeCoverage {
	if rc, ok := c.covered[k]; ok {
		return rc
	}
	rc := &routeCoverage{entry: d.IsRouteEntry()}
	c.covered[k] = rc
	return rc
}

func (c *coverage) numRoutes() int {
	n := 0
	for _, vh := range c.rc.GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			if wc := r.GetRoute().GetWeightedClusters(); wc != nil {
				n += len(wc.GetClusters())
			} else {
				n++
			}
		}
	}
	return n
}

// coveredRoutes is the set of configured routes with any coverage.
func (c *coverage) coveredRoutes() map[[2]int]bool {
	out := map[[2]int]bool{}
	for k := range c.covered {
		out[[2]int{k.vh, k.route}] = true
	}
	return out
}

// report is the default coverage: covered routes over all routes.
func (c *coverage) report(detailed bool, w io.Writer) float64 {
	if detailed {
		covered := c.coveredRoutes()
		for i, vh := range c.rc.GetVirtualHosts() {
			for j := range vh.GetRoutes() {
				if !covered[[2]int{i, j}] {
					fmt.Fprintf(w, "Missing test for host: %s, route name: %s\n", vh.GetName(), c.names[[2]int{i, j}])
				}
			}
		}
	}
	n := c.numRoutes()
	if n == 0 {
		return 0
	}
	return 100 * float64(len(c.covered)) / float64(n)
}

// comprehensive is --covall: every checked field of every route counts,
// and routes without tests are listed.
func (c *coverage) comprehensive(w io.Writer) float64 {
	covered := c.coveredRoutes()
	for i, vh := range c.rc.GetVirtualHosts() {
		for j, r := range vh.GetRoutes() {
			if !covered[[2]int{i, j}] {
				fmt.Fprintf(w, "Missing test for host: %s, route: %s\n", vh.GetName(), textFormat(r.GetMatch()))
			}
		}
	}
	var sum float64
	keys := make([]routeKey, 0, len(c.covered))
	for k := range c.covered {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return fmt.Sprint(keys[a]) < fmt.Sprint(keys[b]) })
	for _, k := range keys {
		sum += c.covered[k].fraction()
	}
	n := c.numRoutes()
	if n == 0 {
		return 0
	}
	return 100 * sum / float64(n)
}

// specifierName names a header matcher's specifier as the tool's failure
// text does.
func specifierName(h *routev3.HeaderMatcher) string {
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_ExactMatch:
		return "exact_match"
	case *routev3.HeaderMatcher_SafeRegexMatch:
		return "safe_regex_match"
	case *routev3.HeaderMatcher_RangeMatch:
		return "range_match"
	case *routev3.HeaderMatcher_PrefixMatch:
		return "prefix_match"
	case *routev3.HeaderMatcher_SuffixMatch:
		return "suffix_match"
	case *routev3.HeaderMatcher_ContainsMatch:
		return "contains_match"
	case *routev3.HeaderMatcher_StringMatch:
		name := "match_pattern_not_set"
		if f := s.StringMatch.ProtoReflect().WhichOneof(s.StringMatch.ProtoReflect().Descriptor().Oneofs().ByName("match_pattern")); f != nil {
			name = string(f.Name())
		}
		return "string_match." + name
	}
	return "present_match"
}

// textFormat prints a message in protobuf text format the way C++
// TextFormat::PrintToString does: fields in number order, two-space
// indentation, one field per line.
func textFormat(m proto.Message) string {
	var b strings.Builder
	writeText(&b, m.ProtoReflect(), "")
	return b.String()
}

func writeText(b *strings.Builder, m protoreflect.Message, indent string) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		v := m.Get(fd)
		switch {
		case fd.IsList():
			l := v.List()
			for k := 0; k < l.Len(); k++ {
				writeField(b, fd, l.Get(k), indent)
			}
		case fd.IsMap():
			v.Map().Range(func(mk protoreflect.MapKey, mv protoreflect.Value) bool {
				b.WriteString(indent + string(fd.Name()) + " {\n")
				b.WriteString(indent + "  key: " + scalarText(fd.MapKey(), mk.Value()) + "\n")
				writeField(b, fd.MapValue(), mv, indent+"  ")
				b.WriteString(indent + "}\n")
				return true
			})
		default:
			writeField(b, fd, v, indent)
		}
	}
}

func writeField(b *strings.Builder, fd protoreflect.FieldDescriptor, v protoreflect.Value, indent string) {
	name := string(fd.Name())
	if fd.IsMap() {
		name = "value"
	}
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		b.WriteString(indent + name + " {\n")
		writeText(b, v.Message(), indent+"  ")
		b.WriteString(indent + "}\n")
		return
	}
	b.WriteString(indent + name + ": " + scalarText(fd, v) + "\n")
}

func scalarText(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind:
		return `"` + cEscape(v.String()) + `"`
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return strconv.Itoa(int(v.Enum()))
	case protoreflect.BoolKind:
		return strconv.FormatBool(v.Bool())
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	return v.String()
}

func cEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '"':
			b.WriteString(`\"`)
		case '\'':
			b.WriteString(`\'`)
		case '\\':
			b.WriteString(`\\`)
		default:
			if c < 0x20 || c >= 0x7f {
				fmt.Fprintf(&b, `\%03o`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}
