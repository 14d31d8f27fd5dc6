package translate

import (
	"fmt"

	"github.com/routedeck/routedeck/backend/model"
)

// CheckObject runs the part of translation that depends on obj alone and
// reports what Envoy would refuse (a generated regex over the program
// size bound, a route or cluster protoc-gen-validate rejects, a condition
// that expands to too many Envoy routes), with paths relative to obj. The
// write path runs it after obj.Validate, so a draft never holds an object
// a publish would refuse on its own; it is the same code the publish
// runs. What depends on other objects (references, virtual hosts shared
// with other rules, filters merged across rules) is not judged here.
// Condition text must already be parsed.
func CheckObject(obj model.Object) error {
	switch o := obj.(type) {
	case *model.Route:
		// The rule is compiled against stand-ins for the upstreams it
		// names: whether they exist is the draft's question, not this
		// object's.
		ups := map[string]*model.Upstream{}
		for _, name := range referencedUpstreams(o) {
			ups[name] = &model.Upstream{Meta: model.Meta{Name: name}}
		}
		return compileRule(o, ups).err
	case *model.Upstream:
		_, _, err := buildCluster(o, nil, false)
		return asProblems(err)
	case *model.Gateway:
		var p model.Problems
		if o.DefaultResponse != nil {
			if _, err := defaultRoute(o.DefaultResponse); err != nil {
				p.Merge("defaultResponse", err)
			}
		}
		if _, err := buildListeners(o, nil, nil); err != nil {
			p.Merge("", asProblems(err))
		}
		return p.Err()
	}
	return nil
}

// asProblems makes a translation error an EINVALID one: a message from
// protoc-gen-validate is about the object, not an internal failure.
func asProblems(err error) error {
	if err == nil || model.ErrorCode(err) == model.EINVALID {
		return err
	}
	return &model.Error{Code: model.EINVALID, Message: "invalid", Fields: []model.FieldError{{Message: fmt.Sprintf("Envoy would refuse this: %v", err)}}}
}

func referencedUpstreams(r *model.Route) []string {
	var out []string
	for _, b := range r.Then.Forward {
		out = append(out, b.Upstream)
	}
	if m := r.Then.Mirror; m != nil {
		out = append(out, m.Upstream)
	}
	if a := r.Then.Auth; a != nil && a.JWT != nil && a.JWT.JWKSUpstream != "" {
		out = append(out, a.JWT.JWKSUpstream)
	}
	return out
}

// Validate is the one check of an object on its own: the model's
// validation and, when that passes, CheckObject. The API's writes and the
// CLI's offline validation use it; a publish runs the same translation.
func Validate(obj model.Object) error {
	if err := obj.Validate(); err != nil {
		return err
	}
	return CheckObject(obj)
}
