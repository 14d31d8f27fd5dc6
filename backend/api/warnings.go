package api

import (
	"context"
	"strings"
	"sync"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/translate"
)

// A write is refused for everything wrong with the object on its own
// (translate.Validate: the model's checks and the object's part of the
// translation) and for references the store cannot resolve. What a
// publish would refuse only because of other objects of the draft (a rule
// whose host tests, together with other rules' hosts, give an Envoy route
// over a limit; filters merged across rules) is tolerated in a draft, so
// that a change spread over several objects can be made one object at a
// time: the write answer lists it as a warning, and a publish refuses it.

// draftTranslators keeps one incremental translator per gateway, so the
// warnings of a one-rule edit cost about one rule to find.
type draftTranslators struct {
	mu sync.Mutex
	by map[string]*translate.Translator
}

func (d *draftTranslators) get(gateway string) *translate.Translator {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.by == nil {
		d.by = map[string]*translate.Translator{}
	}
	t := d.by[gateway]
	if t == nil {
		t = translate.NewTranslator()
		d.by[gateway] = t
	}
	return t
}

// draftWarnings translates the gateway obj belongs to (a route's gateway,
// or a gateway itself) as the draft now stands and returns what the
// translation reports about obj, with paths relative to it. Upstreams and
// secrets are judged on their own at write time and get none. A failure
// to translate for another reason is the publish's to report.
func (s *server) draftWarnings(ctx context.Context, obj model.Object) []model.FieldError {
	warnings := []model.FieldError{}
	var gateway, list string
	switch o := obj.(type) {
	case *model.Route:
		gateway, list = o.Gateway, "routes"
	case *model.Gateway:
		gateway, list = o.Name, "gateways"
	default:
		return warnings
	}
	// The store's decoded draft, not a fresh decode of every route of the
	// gateway on each write; it is only read here.
	ws, err := s.Store.GatewayDraft(ctx, gateway)
	if err != nil {
		s.log.WarnContext(ctx, "draft warnings", "gateway", gateway, "err", err)
		return warnings
	}
	index := -1
	for i, o := range ws.Objects() {
		if o.Kind() == obj.Kind() && o.ObjectMeta().Name == obj.ObjectMeta().Name {
			index = i
		}
	}
	if index < 0 {
		return warnings
	}
	// Objects() lists secrets, gateways, upstreams, routes: turn the
	// position into the index within obj's own list.
	switch list {
	case "routes":
		index -= len(ws.Secrets) + len(ws.Gateways) + len(ws.Upstreams)
	case "gateways":
		index -= len(ws.Secrets)
	}
	// Objects from the store are identified by their versions: the
	// translator keeps what it translated of every unchanged one.
	_, err = s.translators.get(gateway).Translate(ws, gateway, translate.Options{Identified: true})
	prefix := model.Index(list, index)
	for _, fe := range model.ErrorFields(err) {
		switch {
		case fe.Field == prefix:
			warnings = append(warnings, model.FieldError{Message: fe.Message})
		case strings.HasPrefix(fe.Field, prefix+"."):
			warnings = append(warnings, model.FieldError{Field: fe.Field[len(prefix)+1:], Message: fe.Message})
		}
	}
	return warnings
}
