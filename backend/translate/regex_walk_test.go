package translate

import (
	"fmt"
	"slices"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// TestRouteRegexesCoversEveryField plants a regex behind each field of a
// route through which protoreflect says one can be reached (at every
// level routeRegexes reads with Go accessors), and requires the typed walk
// to find exactly what the reflective walk of the whole route finds, on
// the same side (match or action).
func TestRouteRegexesCoversEveryField(t *testing.T) {
	typed := []protoreflect.MessageDescriptor{
		(&routev3.Route{}).ProtoReflect().Descriptor(),
		(&routev3.RouteMatch{}).ProtoReflect().Descriptor(),
		(&routev3.HeaderMatcher{}).ProtoReflect().Descriptor(),
		(&matcherv3.StringMatcher{}).ProtoReflect().Descriptor(),
		(&routev3.RouteAction{}).ProtoReflect().Descriptor(),
		(&routev3.WeightedCluster{}).ProtoReflect().Descriptor(),
		(&routev3.WeightedCluster_ClusterWeight{}).ProtoReflect().Descriptor(),
	}
	// pathTo leads from a route to a message of each typed kind.
	pathTo := map[protoreflect.FullName][]string{
		"envoy.config.route.v3.Route":                         nil,
		"envoy.config.route.v3.RouteMatch":                    {"match"},
		"envoy.config.route.v3.HeaderMatcher":                 {"match", "headers"},
		"envoy.type.matcher.v3.StringMatcher":                 {"match", "headers", "string_match"},
		"envoy.config.route.v3.RouteAction":                   {"route"},
		"envoy.config.route.v3.WeightedCluster":               {"route", "weighted_clusters"},
		"envoy.config.route.v3.WeightedCluster.ClusterWeight": {"route", "weighted_clusters", "clusters"},
	}
	planted := 0
	for _, md := range typed {
		for _, fd := range regexFields(md) {
			rt := &routev3.Route{}
			m := rt.ProtoReflect()
			for _, name := range pathTo[md.FullName()] {
				m = child(m, m.Descriptor().Fields().ByName(protoreflect.Name(name)))
			}
			re := fmt.Sprintf("planted-%d", planted)
			planted++
			if !plant(child(m, fd), re, 8) {
				t.Fatalf("%s.%s: found no way to a regex", md.FullName(), fd.Name())
			}
			var want, got regexList
			rt.ProtoReflect().Range(func(top protoreflect.FieldDescriptor, v protoreflect.Value) bool {
				eachMessage(top, v, func(m protoreflect.Message) {
					walkMessageRegexes(m, top.Name() == "match", false, &want)
				})
				return true
			})
			routeRegexes(rt, &got)
			if len(want) == 0 {
				t.Fatalf("%s.%s: the reflective walk found nothing", md.FullName(), fd.Name())
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s.%s: typed walk found %+v; reflection found %+v", md.FullName(), fd.Name(), got, want)
			}
		}
	}
}

// child sets field fd of m to a new message (appending to a list, adding
// key "k" to a map) and returns it.
func child(m protoreflect.Message, fd protoreflect.FieldDescriptor) protoreflect.Message {
	switch {
	case fd.IsMap():
		return m.Mutable(fd).Map().Mutable(protoreflect.ValueOfString("k").MapKey()).Message()
	case fd.IsList():
		return m.Mutable(fd).List().AppendMutable().Message()
	default:
		return m.Mutable(fd).Message()
	}
}

// plant puts regex re somewhere inside m, at most depth messages down; an
// Any gets a StringMatcher holding it.
func plant(m protoreflect.Message, re string, depth int) bool {
	switch m.Descriptor().FullName() {
	case regexMatcherName:
		m.Interface().(*matcherv3.RegexMatcher).Regex = re
		return true
	case anyName:
		inner, err := anypb.New(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{
			SafeRegex: &matcherv3.RegexMatcher{Regex: re}}})
		if err != nil {
			panic(err)
		}
		*m.Interface().(*anypb.Any) = anypb.Any{TypeUrl: inner.TypeUrl, Value: inner.Value}
		return true
	}
	if depth == 0 {
		return false
	}
	for _, fd := range regexFields(m.Descriptor()) {
		if plant(child(m, fd), re, depth-1) {
			return true
		}
		m.Clear(fd)
	}
	return false
}

// eachMessage calls f for the message, the messages of the list, or the
// message values of the map that field fd holds in v.
func eachMessage(fd protoreflect.FieldDescriptor, v protoreflect.Value, f func(protoreflect.Message)) {
	switch {
	case fd.IsMap():
		if fd.MapValue().Kind() == protoreflect.MessageKind {
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				f(mv.Message())
				return true
			})
		}
	case fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind:
	case fd.IsList():
		l := v.List()
		for i := 0; i < l.Len(); i++ {
			f(l.Get(i).Message())
		}
	default:
		f(v.Message())
	}
}
