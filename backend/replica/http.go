package replica

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/routedeck/routedeck/backend/pki"
)

// MinStatusToken is the shortest status token accepted: long enough
// that guessing it over the network is hopeless.
const MinStatusToken = 16

// Handler is the replica's own small HTTP API, read-only:
//
//	GET /api/v1/health                   200 {"status":"ok"}, for liveness probes
//	GET /api/v1/ready                    200 {"status":"ready"} once every followed gateway is served, else 503
//	GET /api/v1/status                   Status
//	GET /api/v1/gateways/{name}/proxies  {"items": [Proxy...]}
//	GET /metrics                         metrics, when given
//
// Liveness and readiness answer anyone, since probes carry no
// credentials, and say no more than whether the replica is up. The rest
// names the replica's Consul, its gateways and their versions, its
// proxies and their addresses, and the errors it met: a map of the
// deployment for whoever can reach the port. It needs token as a bearer
// token (Authorization: Bearer ...), as a Prometheus scrape can send it;
// without a token it answers only clients on loopback (kubectl
// port-forward, exec, a sidecar), so a replica listening on every
// interface for its probes shows nothing more to the network.
func (r *Replica) Handler(metrics http.Handler, token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /api/v1/ready", func(w http.ResponseWriter, _ *http.Request) {
		if reason := r.Status().notReady(); reason != "" {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": reason})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /api/v1/status", operatorsOnly(token, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, r.Status())
	}))
	mux.Handle("GET /api/v1/gateways/{name}/proxies", operatorsOnly(token, func(w http.ResponseWriter, req *http.Request) {
		name := req.PathValue("name")
		if err := pki.CheckGatewayName(name); err != nil {
			writeProblem(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": r.Proxies(name)})
	}))
	if metrics != nil {
		mux.Handle("GET /metrics", operatorsOnly(token, metrics.ServeHTTP))
	}
	return mux
}

// notReady says why a replica with status st is not ready yet, or "".
// It counts rather than names the gateways: anyone may ask.
func (st Status) notReady() string {
	if st.Consul.LastRead == nil {
		return "Consul not read yet"
	}
	waiting := 0
	for _, g := range st.Gateways {
		if g.Version == 0 {
			waiting++
		}
	}
	if waiting > 0 {
		return fmt.Sprintf("%d of %d gateways not served yet", waiting, len(st.Gateways))
	}
	return ""
}

// operatorsOnly lets through requests with token as their bearer token
// or, without a token, requests from loopback.
func operatorsOnly(token string, next http.HandlerFunc) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if token == "" {
			if !fromLoopback(req) {
				writeProblem(w, http.StatusForbidden, "the replica's status answers clients on loopback only; "+
					"start it with --status-token-file to read it over the network")
				return
			}
			next.ServeHTTP(w, req)
			return
		}
		got, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		// Hashes of equal length, so the comparison takes the same time
		// whatever was sent.
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="routedeck-xds"`)
			writeProblem(w, http.StatusUnauthorized, "send the replica's status token (Authorization: Bearer ...)")
			return
		}
		next.ServeHTTP(w, req)
	})
}

// fromLoopback reports whether req came over a connection from
// loopback. Forwarding headers are not read: anyone can send them.
func fromLoopback(req *http.Request) bool {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func writeProblem(w http.ResponseWriter, code int, detail string) {
	writeJSON(w, code, map[string]any{"status": code, "title": http.StatusText(code), "detail": detail})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
