package model

// Object is any stored workspace document: *Secret, *Gateway, *Upstream or
// *Route.
type Object interface {
	Kind() string
	ObjectMeta() *Meta
	// Validate checks the object on its own (not its references) and
	// reports every problem with a field path relative to the object.
	Validate() error
}

// Kind returns KindGateway.
func (g *Gateway) Kind() string { return KindGateway }

// ObjectMeta returns the object's metadata.
func (g *Gateway) ObjectMeta() *Meta { return &g.Meta }

// Kind returns KindUpstream.
func (u *Upstream) Kind() string { return KindUpstream }

// ObjectMeta returns the object's metadata.
func (u *Upstream) ObjectMeta() *Meta { return &u.Meta }

// Kind returns KindRoute.
func (r *Route) Kind() string { return KindRoute }

// ObjectMeta returns the object's metadata.
func (r *Route) ObjectMeta() *Meta { return &r.Meta }

// NewObject returns an empty object of kind, or nil for an unknown kind.
func NewObject(kind string) Object {
	switch kind {
	case KindGateway:
		return &Gateway{}
	case KindUpstream:
		return &Upstream{}
	case KindRoute:
		return &Route{}
	case KindSecret:
		return &Secret{}
	}
	return nil
}

// Objects returns pointers to every object in ws in Kinds order: secrets,
// gateways, upstreams, routes.
func (ws *Workspace) Objects() []Object {
	out := make([]Object, 0, len(ws.Secrets)+len(ws.Gateways)+len(ws.Upstreams)+len(ws.Routes))
	for i := range ws.Secrets {
		out = append(out, &ws.Secrets[i])
	}
	for i := range ws.Gateways {
		out = append(out, &ws.Gateways[i])
	}
	for i := range ws.Upstreams {
		out = append(out, &ws.Upstreams[i])
	}
	for i := range ws.Routes {
		out = append(out, &ws.Routes[i])
	}
	return out
}

// Add appends obj to the matching list of ws.
func (ws *Workspace) Add(obj Object) {
	switch o := obj.(type) {
	case *Gateway:
		ws.Gateways = append(ws.Gateways, *o)
	case *Upstream:
		ws.Upstreams = append(ws.Upstreams, *o)
	case *Route:
		ws.Routes = append(ws.Routes, *o)
	case *Secret:
		ws.Secrets = append(ws.Secrets, *o)
	}
}
