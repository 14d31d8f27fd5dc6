package replica

import (
	"encoding/json"
	"net/http"

	"github.com/routedeck/routedeck/backend/pki"
)

// Handler is the replica's own small HTTP API, read-only and without
// credentials (it holds no configuration, only what its proxies run):
//
//	GET /api/v1/health                   200 {"status":"ok"}, for liveness probes
//	GET /api/v1/ready                    200 once every followed gateway is served, else 503 with the status
//	GET /api/v1/status                   Status
//	GET /api/v1/gateways/{name}/proxies  {"items": [Proxy...]}
//	GET /metrics                         metrics, when given
func (r *Replica) Handler(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /api/v1/ready", func(w http.ResponseWriter, _ *http.Request) {
		st := r.Status()
		code := http.StatusOK
		if st.Consul.LastRead == nil {
			code = http.StatusServiceUnavailable
		}
		for _, g := range st.Gateways {
			if g.Version == 0 {
				code = http.StatusServiceUnavailable
			}
		}
		writeJSON(w, code, st)
	})
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, r.Status())
	})
	mux.HandleFunc("GET /api/v1/gateways/{name}/proxies", func(w http.ResponseWriter, req *http.Request) {
		name := req.PathValue("name")
		if err := pki.CheckGatewayName(name); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"status": http.StatusBadRequest, "title": "Bad Request", "detail": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": r.Proxies(name)})
	})
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
