package routetest

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
)

// spec is what a stored test keeps beside its name, gateway and version.
type spec struct {
	Description string          `json:"description,omitempty"`
	Request     json.RawMessage `json:"request"`
	Expect      Expect          `json:"expect"`
}

// ToStore encodes t for the store.
func (t *Test) ToStore() (store.RouteTest, error) {
	req, err := json.Marshal(t.Request)
	if err != nil {
		return store.RouteTest{}, fmt.Errorf("encode route test %q: %w", t.Name, err)
	}
	b, err := json.Marshal(spec{Description: t.Description, Request: req, Expect: t.Expect})
	if err != nil {
		return store.RouteTest{}, fmt.Errorf("encode route test %q: %w", t.Name, err)
	}
	return store.RouteTest{Name: t.Name, Gateway: t.Gateway, Version: t.Version, Spec: b}, nil
}

// FromStore decodes a stored test.
func FromStore(st store.RouteTest) (Test, error) {
	var sp spec
	if err := json.Unmarshal(st.Spec, &sp); err != nil {
		return Test{}, fmt.Errorf("decode route test %q: %w", st.Name, err)
	}
	t := Test{Name: st.Name, Gateway: st.Gateway, Version: st.Version, Description: sp.Description, Expect: sp.Expect}
	if err := json.Unmarshal(sp.Request, &t.Request); err != nil {
		return Test{}, fmt.Errorf("decode route test %q: request: %w", st.Name, err)
	}
	return t, nil
}

// Load returns the stored tests of gateway ("" for all), by gateway and name.
func Load(ctx context.Context, st *store.Store, gateway string) ([]Test, error) {
	stored, err := st.ListRouteTests(ctx, gateway)
	if err != nil {
		return nil, err
	}
	out := make([]Test, 0, len(stored))
	for _, s := range stored {
		t, err := FromStore(s)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// RunStored runs the stored tests of gateway ("" for all) over the current
// draft. An unknown gateway is ENOTFOUND.
func RunStored(ctx context.Context, st *store.Store, gateway string, dp DataPlane) (Report, error) {
	tests, err := Load(ctx, st, gateway)
	if err != nil {
		return Report{}, err
	}
	return RunDraft(ctx, st, gateway, tests, dp)
}

// RunDraft runs tests over the current draft. A non-empty gateway must exist.
func RunDraft(ctx context.Context, st *store.Store, gateway string, tests []Test, dp DataPlane) (Report, error) {
	if gateway != "" {
		if _, err := st.Get(ctx, model.KindGateway, gateway); err != nil {
			return Report{}, err
		}
	}
	ws, err := st.Workspace(ctx)
	if err != nil {
		return Report{}, err
	}
	return Run(ctx, ws, tests, dp), nil
}
