package api

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model"
)

// LocalGateways runs gateways' published configuration in the server's own
// process, on loopback ports (GET|PUT|DELETE /gateways/{name}/local): a
// simulated Envoy that joins the gateway over ADS like any of its proxies,
// so its requests show in the gateway's request log. Nil answers 501.
type LocalGateways interface {
	Status(ctx context.Context, gateway string) (LocalGateway, error)
	// Start starts the gateway's local gateway (or finds it running) and
	// waits a few seconds for it to serve the published version.
	Start(ctx context.Context, actor, gateway string) (LocalGateway, error)
	// Stop stops it and frees its ports; stopping a stopped one is no
	// error.
	Stop(ctx context.Context, actor, gateway string) (LocalGateway, error)
	// SendTraffic sends n sample requests, one per rule in turn, through
	// the running local gateway, over real connections.
	SendTraffic(ctx context.Context, actor, gateway string, n int) (LocalTraffic, error)
}

// Local gateway states.
const (
	LocalStopped  = "stopped"
	LocalWaiting  = "waiting"  // running, the gateway has no published version
	LocalStarting = "starting" // running, its configuration not served yet
	LocalReady    = "ready"
	LocalRefused  = "refused" // it refused (NACKed) the configuration
)

// LocalGateway is the state of a gateway's local gateway.
type LocalGateway struct {
	Gateway string `json:"gateway"`
	State   string `json:"state"`
	// Message says what the state means for the user, when it is not
	// plain ("publish the gateway first").
	Message string `json:"message,omitempty"`
	// Node is the node.id it joins the gateway with; the proxies list
	// shows it under that name.
	Node  string     `json:"node,omitempty"`
	Since *time.Time `json:"since,omitempty"`
	// Listeners are the gateway's listeners on their loopback ports.
	Listeners []LocalListener `json:"listeners"`
	// Admin is the URL of its admin interface (/ready, /stats).
	Admin string `json:"admin,omitempty"`
	// Version is the published version it runs, null until it
	// acknowledged all of it.
	Version *int64            `json:"version"`
	Acked   map[string]string `json:"acked"`
	InSync  bool              `json:"inSync"`
	Nack    *Nack             `json:"nack"`
	// Samples are requests to try, one per rule of the published version
	// (a few), as curl commands against the local listener.
	Samples []LocalSample `json:"samples"`
}

// LocalListener is one listener of a local gateway.
type LocalListener struct {
	Name  string `json:"name"`
	URL   string `json:"url"`
	TLS   bool   `json:"tls"`
	Ready bool   `json:"ready"`
}

// LocalSample is a request a rule of the gateway serves, aimed at the
// local gateway.
type LocalSample struct {
	// Rule is the rule that serves it, "" for a request no rule matches.
	Rule    string            `json:"rule"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Curl    string            `json:"curl"`
}

// LocalTraffic is what the sample requests got, per sample.
type LocalTraffic struct {
	Sent    int                  `json:"sent"`
	Results []LocalTrafficResult `json:"results"`
}

// LocalTrafficResult counts one sample's answers.
type LocalTrafficResult struct {
	Rule    string            `json:"rule"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Sent    int               `json:"sent"`
	// Statuses counts answers by status code; Errors the requests that
	// got none, and Error is the last reason.
	Statuses map[string]int `json:"statuses"`
	Errors   int            `json:"errors,omitempty"`
	Error    string         `json:"error,omitempty"`
}

// Bounds of POST /gateways/{name}/local/traffic.
const (
	defaultLocalTraffic = 50
	maxLocalTraffic     = 1000
)

type localTrafficBody struct {
	// Requests is how many to send (default 50, at most 1000).
	Requests *int `json:"requests,omitempty"`
}

func (s *server) localGateway(w http.ResponseWriter, r *http.Request) {
	if err := onlyQuery(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.LocalGateways == nil {
		s.writeError(w, r, notWired("running a local gateway"))
		return
	}
	st, err := s.LocalGateways.Status(r.Context(), chi.URLParam(r, "name"))
	s.writeLocal(w, r, st, err)
}

// localAction answers the PUT that starts and the DELETE that stops the
// gateway's local gateway: read checks what the request carries, act
// does it.
func (s *server) localAction(read func(*http.Request) error,
	act func(lg LocalGateways, ctx context.Context, actor, gateway string) (LocalGateway, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := read(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		if s.LocalGateways == nil {
			s.writeError(w, r, notWired("running a local gateway"))
			return
		}
		st, err := act(s.LocalGateways, r.Context(), auth.Actor(r.Context()), chi.URLParam(r, "name"))
		s.writeLocal(w, r, st, err)
	}
}

// emptyBody reads a body with nothing to say yet: an empty object, or
// no body at all. noQuery refuses any query parameter.
func emptyBody(r *http.Request) error { return decodeOptional(r, &struct{}{}) }
func noQuery(r *http.Request) error   { return onlyQuery(r) }

func (s *server) localTraffic(w http.ResponseWriter, r *http.Request) {
	var body localTrafficBody
	if err := decodeOptional(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	n := defaultLocalTraffic
	if body.Requests != nil {
		n = *body.Requests
		if n < 1 || n > maxLocalTraffic {
			var p model.Problems
			p.Add("requests", "must be between 1 and %d", maxLocalTraffic)
			s.writeError(w, r, p.Err())
			return
		}
	}
	if s.LocalGateways == nil {
		s.writeError(w, r, notWired("running a local gateway"))
		return
	}
	res, err := s.LocalGateways.SendTraffic(r.Context(), auth.Actor(r.Context()), chi.URLParam(r, "name"), n)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if res.Results == nil {
		res.Results = []LocalTrafficResult{}
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *server) writeLocal(w http.ResponseWriter, r *http.Request, st LocalGateway, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if st.Listeners == nil {
		st.Listeners = []LocalListener{}
	}
	if st.Samples == nil {
		st.Samples = []LocalSample{}
	}
	if st.Acked == nil {
		st.Acked = map[string]string{}
	}
	writeJSON(w, http.StatusOK, st)
}
