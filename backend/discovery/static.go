package discovery

import (
	"context"
	"fmt"

	"github.com/routedeck/routedeck/backend/model"
)

// Static reports the endpoints an upstream lists by hand, once, and
// returns: they change only with the upstream, which starts a new watch.
type Static struct{}

// Watch implements Source.
func (Static) Watch(ctx context.Context, up model.Upstream, report func(Update)) error {
	if up.Static == nil {
		return fmt.Errorf("upstream %q has no static endpoints", up.Name)
	}
	eps := make([]Endpoint, 0, len(up.Static.Endpoints))
	for _, e := range up.Static.Endpoints {
		w := e.Weight
		if w <= 0 {
			w = 1
		}
		eps = append(eps, Endpoint{Address: e.Address, Port: e.Port, Weight: w, Healthy: true, Health: HealthUnknown, Source: SourceStatic})
	}
	SortEndpoints(eps)
	report(Update{Endpoints: eps})
	return nil
}
