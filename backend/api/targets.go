package api

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/discovery"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/targets"
)

// Endpoints reports what discovery knows about an upstream's endpoints.
type Endpoints interface {
	// Status returns the upstream's endpoints and whether it is watched.
	Status(upstream string) (discovery.Status, bool)
}

// Targets keeps the Kubernetes and Consul connection settings
// (GET|PUT /targets) and browses what the targets offer as upstreams.
type Targets interface {
	View(ctx context.Context) (targets.View, error)
	Put(ctx context.Context, actor string, u targets.Update) error
	KubeServices(ctx context.Context, namespace string) ([]string, []targets.KubeService, error)
	ConsulServices(ctx context.Context) ([]targets.ConsulService, error)
}

// DeployRequest is the body of POST /gateways/{name}/deploy: where and how
// the gateway's Envoys run in Kubernetes.
type DeployRequest struct {
	Namespace             string `json:"namespace,omitempty"`
	CreateNamespace       bool   `json:"createNamespace,omitempty"`
	ServiceType           string `json:"serviceType,omitempty"` // LoadBalancer (default) or NodePort
	AWSNLB                bool   `json:"awsNlb,omitempty"`
	ExternalTrafficPolicy string `json:"externalTrafficPolicy,omitempty"` // Cluster (default) or Local
	Replicas              int32  `json:"replicas,omitempty"`
	Image                 string `json:"image,omitempty"`
	// ADS is routedeck's ADS address as the Envoys reach it (HOST:PORT).
	ADS    string `json:"ads"`
	DryRun bool   `json:"dryRun,omitempty"`
}

// ExportRequest is the body of the export apply endpoints.
type ExportRequest struct {
	// Namespace receives the HTTPRoutes (Gateway API only).
	Namespace string `json:"namespace,omitempty"`
	DryRun    bool   `json:"dryRun,omitempty"`
}

// Push deploys gateways to Kubernetes and exports their routes to the
// Kubernetes Gateway API and to Consul config entries. Results are JSON
// documents the implementation owns.
type Push interface {
	Deploy(ctx context.Context, actor, gateway string, req DeployRequest) (any, error)
	// ExportGatewayAPI renders the gateway's routes as HTTPRoutes; with
	// apply it also applies them (req says where).
	ExportGatewayAPI(ctx context.Context, actor, gateway string, apply bool, req ExportRequest) (any, error)
	// ExportConsul renders the routes as Consul config entries; with apply
	// it also writes them to the agent.
	ExportConsul(ctx context.Context, actor, gateway string, apply bool) (any, error)
	// ConsulKV reads back what a publish wrote to Consul's KV.
	ConsulKV(ctx context.Context, gateway string) (any, error)
}

// endpointsReply is GET /upstreams/{name}/endpoints.
type endpointsReply struct {
	Items  []discovery.Endpoint `json:"items"`
	Source string               `json:"source"`
	// Stale: the source is unreachable; the items are the last known.
	Stale bool `json:"stale"`
	// Reported is false while the source has not answered yet.
	Reported bool   `json:"reported"`
	Error    string `json:"error,omitempty"`
}

// endpoints reports an upstream's endpoints: what discovery found when it
// watches the upstream, else the static or DNS definition itself.
func (s *server) endpoints(w http.ResponseWriter, r *http.Request) {
	obj, err := s.Store.Get(r.Context(), model.KindUpstream, chi.URLParam(r, "name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u := obj.(*model.Upstream)
	if s.Endpoints != nil {
		if st, ok := s.Endpoints.Status(u.Name); ok {
			items := st.Endpoints
			if items == nil {
				items = []discovery.Endpoint{}
			}
			writeJSON(w, http.StatusOK, endpointsReply{Items: items, Source: st.Source, Stale: st.Stale, Reported: st.Reported, Error: st.Error})
			return
		}
	}
	reply := endpointsReply{Items: []discovery.Endpoint{}, Source: discovery.SourceOf(*u), Reported: true}
	switch {
	case u.Static != nil:
		for _, e := range u.Static.Endpoints {
			weight := max(e.Weight, 1)
			reply.Items = append(reply.Items, discovery.Endpoint{Address: e.Address, Port: e.Port, Weight: weight, Healthy: true, Health: discovery.HealthUnknown, Source: discovery.SourceStatic})
		}
		discovery.SortEndpoints(reply.Items)
	case u.DNS != nil:
		reply.Items = append(reply.Items, discovery.Endpoint{Address: u.DNS.Host, Port: u.DNS.Port, Weight: 1, Healthy: true, Health: discovery.HealthUnknown, Source: discovery.SourceDNS})
	case s.Endpoints != nil:
		// Discovery runs but has not picked the upstream up yet (it
		// follows the store within a fraction of a second).
		reply.Reported = false
	default:
		s.writeError(w, r, notWired("endpoint discovery"))
		return
	}
	writeJSON(w, http.StatusOK, reply)
}

func (s *server) getTargets(w http.ResponseWriter, r *http.Request) {
	if s.Targets == nil {
		s.writeError(w, r, notWired("targets"))
		return
	}
	v, err := s.Targets.View(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *server) putTargets(w http.ResponseWriter, r *http.Request) {
	var u targets.Update
	if err := decode(r, &u); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.Targets == nil {
		s.writeError(w, r, notWired("targets"))
		return
	}
	if err := s.Targets.Put(r.Context(), auth.Actor(r.Context()), u); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.getTargets(w, r)
}

func (s *server) kubeServices(w http.ResponseWriter, r *http.Request) {
	if s.Targets == nil {
		s.writeError(w, r, notWired("targets"))
		return
	}
	nss, svcs, err := s.Targets.KubeServices(r.Context(), r.URL.Query().Get("namespace"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"namespaces": nss, "items": svcs})
}

func (s *server) consulServices(w http.ResponseWriter, r *http.Request) {
	if s.Targets == nil {
		s.writeError(w, r, notWired("targets"))
		return
	}
	svcs, err := s.Targets.ConsulServices(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": svcs})
}

func (s *server) consulKV(w http.ResponseWriter, r *http.Request) {
	gateway := r.URL.Query().Get("gateway")
	if gateway == "" {
		s.writeError(w, r, fieldError("gateway", "required: the gateway whose published workspace to read"))
		return
	}
	s.pushCall(w, r, func(p Push) (any, error) { return p.ConsulKV(r.Context(), gateway) })
}

func (s *server) deploy(w http.ResponseWriter, r *http.Request) {
	var req DeployRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.pushCall(w, r, func(p Push) (any, error) {
		return p.Deploy(r.Context(), auth.Actor(r.Context()), chi.URLParam(r, "name"), req)
	})
}

// exportGatewayAPI answers GET (render only) and POST (render and apply).
func (s *server) exportGatewayAPI(w http.ResponseWriter, r *http.Request) {
	var req ExportRequest
	apply := r.Method == http.MethodPost
	if apply {
		if err := decodeOptional(r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
	} else {
		req.Namespace = r.URL.Query().Get("namespace")
	}
	s.pushCall(w, r, func(p Push) (any, error) {
		return p.ExportGatewayAPI(r.Context(), auth.Actor(r.Context()), chi.URLParam(r, "name"), apply, req)
	})
}

// exportConsul answers GET (render only) and POST (render and apply).
func (s *server) exportConsul(w http.ResponseWriter, r *http.Request) {
	s.pushCall(w, r, func(p Push) (any, error) {
		return p.ExportConsul(r.Context(), auth.Actor(r.Context()), chi.URLParam(r, "name"), r.Method == http.MethodPost)
	})
}

func (s *server) pushCall(w http.ResponseWriter, r *http.Request, call func(Push) (any, error)) {
	if s.Push == nil {
		s.writeError(w, r, notWired("pushing to targets"))
		return
	}
	out, err := call(s.Push)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
