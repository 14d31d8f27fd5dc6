package translate

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/routedeck/routedeck/backend/model"
)

// catchAll is the domain (and name) of the virtual host that receives every
// host no other virtual host claims.
const catchAll = "*"

// tri is a three-valued truth: a host test is decided for a whole virtual
// host, or has to run per request as an :authority matcher.
type tri int

const (
	triFalse tri = iota
	triTrue
	triUnknown
)

// hostPattern is a host value from a rule: an exact name or a suffix
// wildcard "*.example.com" (suffix ".example.com"), lower-cased.
type hostPattern struct {
	raw    string
	suffix string // non-empty for wildcards
}

func parseHostPattern(v string) (hostPattern, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	switch {
	case v == "" || v == "*":
		return hostPattern{}, fmt.Errorf("host %q: name a host or a wildcard like *.example.com", v)
	case strings.HasPrefix(v, "*"):
		if strings.Contains(v[1:], "*") {
			return hostPattern{}, fmt.Errorf("host %q: only a leading * wildcard is supported", v)
		}
		return hostPattern{raw: v, suffix: v[1:]}, nil
	case strings.Contains(v, "*"):
		return hostPattern{}, fmt.Errorf("host %q: only a leading * wildcard is supported", v)
	}
	return hostPattern{raw: v}, nil
}

// matches is Envoy's domain rule: a wildcard matches hosts that end in its
// suffix with at least one more character in front.
func (p hostPattern) matches(host string) bool {
	if p.suffix == "" {
		return host == p.raw
	}
	return len(host) > len(p.suffix) && strings.HasSuffix(host, p.suffix)
}

// vhostSet is the virtual hosts of a route configuration: one per host value
// any rule compares the host with (exact names first, then wildcards, longest
// first as Envoy tries them), then the catch-all. Because every such value
// has its own virtual host, an equality test is decided per virtual host.
type vhostSet struct {
	list  []hostPattern // the catch-all last, with raw == "*"
	index map[string]int
}

func newVhostSet(patterns map[string]hostPattern) *vhostSet {
	vs := &vhostSet{index: make(map[string]int, len(patterns)+1)}
	for _, p := range patterns {
		vs.list = append(vs.list, p)
	}
	sort.Slice(vs.list, func(i, j int) bool {
		a, b := vs.list[i], vs.list[j]
		if (a.suffix == "") != (b.suffix == "") {
			return a.suffix == ""
		}
		return a.raw < b.raw
	})
	vs.list = append(vs.list, hostPattern{raw: catchAll})
	for i, p := range vs.list {
		vs.index[p.raw] = i
	}
	return vs
}

func (vs *vhostSet) isCatchAll(i int) bool { return i == len(vs.list)-1 }

// equalsAt decides host == p for the requests that virtual host i receives.
// Every host value has a virtual host of its own, so the answer is the same
// for all of them: either every host arriving at i is in p or none is.
func (vs *vhostSet) equalsAt(p hostPattern, i int) bool {
	v := vs.list[i]
	switch {
	case vs.isCatchAll(i):
		return false // p has a virtual host of its own
	case v.suffix == "":
		return p.matches(v.raw)
	case p.suffix == "":
		return false // an exact name is served by its own virtual host
	}
	// Both wildcards: hosts at v end in v.suffix and no longer wildcard took
	// them. p holds all of them if its suffix is a suffix of v's; otherwise
	// (longer or unrelated) none of them.
	return strings.HasSuffix(v.suffix, p.suffix)
}

// candidates lists the virtual hosts where host == p can hold.
func (vs *vhostSet) candidates(p hostPattern) []int {
	if p.suffix == "" {
		return []int{vs.index[p.raw]}
	}
	var out []int
	for i := range vs.list[:len(vs.list)-1] {
		if vs.equalsAt(p, i) {
			out = append(out, i)
		}
	}
	return out
}

// hostLiteral evaluates one host literal at virtual host i: decided, or
// undecided and left to an :authority matcher.
func (vs *vhostSet) hostLiteral(l literal, i int) (tri, error) {
	var res tri
	switch l.pred.Op {
	case model.OpEquals, model.OpIn:
		values := l.pred.Values
		if l.pred.Op == model.OpEquals {
			values = []string{l.pred.Value}
		}
		res = triFalse
		for _, v := range values {
			p, err := parseHostPattern(v)
			if err != nil {
				return 0, err
			}
			if vs.equalsAt(p, i) {
				res = triTrue
				break
			}
		}
	default:
		v := vs.list[i]
		if v.suffix != "" || vs.isCatchAll(i) {
			return triUnknown, nil
		}
		ok, err := hostTest(*l.pred, v.raw)
		if err != nil {
			return 0, err
		}
		res = triFalse
		if ok {
			res = triTrue
		}
	}
	if l.neg {
		res = triTrue - res
	}
	return res, nil
}

// hostTest runs a non-equality host test on a known host, case-insensitively.
func hostTest(c model.Condition, host string) (bool, error) {
	v := strings.ToLower(c.Value)
	switch c.Op {
	case model.OpPrefix:
		return strings.HasPrefix(host, v), nil
	case model.OpSuffix:
		return strings.HasSuffix(host, v), nil
	case model.OpContains:
		return strings.Contains(host, v), nil
	case model.OpRegex:
		re, err := regexp.Compile("^(?i:" + c.Value + ")$")
		if err != nil {
			return false, fmt.Errorf("invalid regex %q: %w", c.Value, err)
		}
		return re.MatchString(host), nil
	}
	return false, fmt.Errorf("operator %q is not supported on host", c.Op)
}

// authorityMatcher runs an undecided host test per request. The header
// keeps its port (ignore_port_in_host_matching only affects the choice of
// virtual host), so the test is a regular expression that accepts an
// optional ":port" after the host; host comparisons ignore case.
func authorityMatcher(l literal) (*routev3.HeaderMatcher, error) {
	re, err := hostRegex(*l.pred)
	if err != nil {
		return nil, err
	}
	sm := regexString("(?i)(?:" + re + ")(?::[0-9]+)?")
	return &routev3.HeaderMatcher{Name: headerAuthority, HeaderMatchSpecifier: stringMatch(sm), InvertMatch: l.neg}, nil
}

// hostRegex is a host test as a regular expression of the host alone.
func hostRegex(c model.Condition) (string, error) {
	switch c.Op {
	case model.OpEquals, model.OpExact:
		return hostValueRegex(c.Value), nil
	case model.OpIn:
		if len(c.Values) == 0 {
			return "", fmt.Errorf("in needs at least one value")
		}
		alts := make([]string, len(c.Values))
		for i, v := range c.Values {
			alts[i] = hostValueRegex(v)
		}
		return strings.Join(alts, "|"), nil
	case model.OpPrefix:
		return regexp.QuoteMeta(c.Value) + "[^:]*", nil
	case model.OpSuffix:
		return "[^:]*" + regexp.QuoteMeta(c.Value), nil
	case model.OpContains:
		return "[^:]*" + regexp.QuoteMeta(c.Value) + "[^:]*", nil
	case model.OpRegex:
		if err := checkRegex(c.Value); err != nil {
			return "", err
		}
		return c.Value, nil
	}
	return "", fmt.Errorf("operator %q is not supported on %s", c.Op, c.Field)
}

// hostValueRegex matches one host value; "*.example.com" stands for any
// name under example.com, as in a virtual host's domains.
func hostValueRegex(v string) string {
	if rest, ok := strings.CutPrefix(v, "*"); ok {
		return ".+" + regexp.QuoteMeta(rest)
	}
	return regexp.QuoteMeta(v)
}

// hostValues collects the host values a term compares with for equality.
func hostValues(t term, into *[]hostPattern) error {
	for _, l := range t {
		if l.pred.Field != model.FieldHost {
			continue
		}
		var values []string
		switch l.pred.Op {
		case model.OpEquals:
			values = []string{l.pred.Value}
		case model.OpIn:
			values = l.pred.Values
		default:
			if _, err := hostTest(*l.pred, ""); err != nil {
				return withPath(l.path, err)
			}
		}
		for _, v := range values {
			p, err := parseHostPattern(v)
			if err != nil {
				return withPath(l.path, err)
			}
			*into = append(*into, p)
		}
	}
	return nil
}

// placement is where one term goes: virtual host index and the :authority
// matchers it needs there (nil when its host tests are decided).
type placement struct {
	vhost     int
	authority []*routev3.HeaderMatcher
}

// place decides the virtual hosts a term can match in.
func (vs *vhostSet) place(t term, out []placement) ([]placement, error) {
	// Most terms hold one host equality: its one virtual host is the
	// candidate, kept in an array that stays on the stack.
	var one [1]int
	var cands []int
	hostLits := 0
	narrowed := false
	for i := range t {
		l := &t[i]
		if l.pred.Field != model.FieldHost {
			continue
		}
		hostLits++
		if l.neg || (l.pred.Op != model.OpEquals && l.pred.Op != model.OpIn) || narrowed {
			continue
		}
		narrowed = true
		// A positive equality test limits the term to the virtual hosts its
		// values reach; the other literals are then checked only there.
		if l.pred.Op == model.OpEquals {
			p, err := parseHostPattern(l.pred.Value)
			if err != nil {
				return out, withPath(l.path, err)
			}
			if p.suffix == "" {
				one[0] = vs.index[p.raw]
				cands = one[:]
			} else {
				cands = vs.candidates(p)
			}
			continue
		}
		for _, v := range l.pred.Values {
			p, err := parseHostPattern(v)
			if err != nil {
				return out, withPath(l.path, err)
			}
			if p.suffix == "" {
				cands = append(cands, vs.index[p.raw])
			} else {
				cands = append(cands, vs.candidates(p)...)
			}
		}
		sort.Ints(cands)
		cands = slices.Compact(cands)
	}
	if hostLits == 0 {
		for i := range vs.list {
			out = append(out, placement{vhost: i})
		}
		return out, nil
	}
	if !narrowed {
		cands = make([]int, len(vs.list))
		for i := range cands {
			cands[i] = i
		}
	}
next:
	for _, i := range cands {
		pl := placement{vhost: i}
		for _, l := range t {
			if l.pred.Field != model.FieldHost {
				continue
			}
			res, err := vs.hostLiteral(l, i)
			if err != nil {
				return out, withPath(l.path, err)
			}
			switch res {
			case triFalse:
				continue next
			case triUnknown:
				hm, err := authorityMatcher(l)
				if err != nil {
					return out, withPath(l.path, err)
				}
				pl.authority = append(pl.authority, hm)
			}
		}
		out = append(out, pl)
	}
	return out, nil
}
