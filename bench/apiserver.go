package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/bench/workload"
)

// apiServer is the server routedeck serve builds (app.Service: store, API,
// release service, ADS) on loopback, holding the workload gateway, and an
// editor's token to drive it through its HTTP API as users do.
type apiServer struct {
	svc  *app.Service
	base string // http://addr/api/v1
	tok  string
	stop func()
}

// startAPIServer starts the server in a temporary data directory with a
// gateway of routes routes over hosts hosts and upstreams upstreams.
func startAPIServer(ctx context.Context, routes, hosts, upstreams int) (*apiServer, error) {
	dir, err := os.MkdirTemp("", "routedeck-bench-api-")
	if err != nil {
		return nil, err
	}
	svc := app.New(app.Config{DataDir: dir, Listen: "127.0.0.1:0", ADSListen: "127.0.0.1:0", ADSInsecurePlaintext: true,
		NoDemo: true, Notices: io.Discard, Logger: slog.New(slog.DiscardHandler)})
	if err := svc.Start(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	a := &apiServer{svc: svc, base: "http://" + svc.Addr().String() + "/api/v1",
		stop: func() { svc.Stop(); os.RemoveAll(dir) }}
	st := svc.Store()
	if _, err := st.Apply(ctx, "bench", workload.Workspace(routes, hosts, upstreams)); err != nil {
		a.stop()
		return nil, fmt.Errorf("load %d routes: %w", routes, err)
	}
	tok, hash, err := auth.NewToken()
	if err == nil {
		err = st.CreateToken(ctx, "bench", &store.Token{Name: "bench", Role: auth.RoleEditor, Hash: hash})
	}
	if err != nil {
		a.stop()
		return nil, err
	}
	a.tok = tok
	return a, nil
}

// do sends one API request and decodes the JSON answer into out (when not
// nil); any status but 200 is an error.
func (a *apiServer) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// publish publishes the workload gateway through the API. The draft may
// equal the live version already (another publish took the same edits):
// unchanged then says so, and version is the live one.
func (a *apiServer) publish(ctx context.Context) (version int64, unchanged bool, took time.Duration, err error) {
	var body struct {
		Version   int64 `json:"version"`
		Unchanged bool  `json:"unchanged"`
	}
	start := time.Now()
	err = a.do(ctx, http.MethodPost, "/gateways/"+workload.Gateway+"/publish", []byte("{}"), &body)
	return body.Version, body.Unchanged, time.Since(start), err
}

// editRoute reads route name through the API and writes it back with its
// path prefix set to prefix, as an editor would; start is when the write
// was sent (the change, as the churn run times it).
func (a *apiServer) editRoute(ctx context.Context, name, prefix string) (start time.Time, err error) {
	var r model.Route
	if err := a.do(ctx, http.MethodGet, "/routes/"+name, nil, &r); err != nil {
		return time.Time{}, err
	}
	if len(r.When.All) != 2 || r.When.All[1].Field != model.FieldPath {
		return time.Time{}, fmt.Errorf("route %s: not a host and path route of the workload", name)
	}
	r.When.All[1].Value = prefix
	body, err := json.Marshal(&r)
	if err != nil {
		return time.Time{}, err
	}
	start = time.Now()
	return start, a.do(ctx, http.MethodPut, "/routes/"+name, body, nil)
}
