package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
)

func TestServiceFirstAndSecondStart(t *testing.T) {
	dir := t.TempDir()
	start := func() (*Service, string) {
		var notices bytes.Buffer
		svc := New(Config{DataDir: dir, Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Notices: &notices})
		if err := svc.Start(context.Background()); err != nil {
			t.Fatalf("start: %v", err)
		}
		return svc, notices.String()
	}

	svc, notices := start()
	if !strings.Contains(notices, `created user "admin" with password `) {
		t.Errorf("first start did not announce the admin password: %q", notices)
	}
	resp, err := http.Get("http://" + svc.Addr().String() + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("health: %d", resp.StatusCode)
	}
	ctx := context.Background()
	routes, total, err := svc.Store().List(ctx, model.KindRoute, store.ListOptions{})
	if err != nil || total < 5 {
		t.Fatalf("demo routes: %d %v", total, err)
	}
	// An operator empties the workspace; a restart must not bring it back.
	for _, r := range routes {
		if err := svc.Store().Delete(ctx, "test", model.KindRoute, r.ObjectMeta().Name, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}

	svc, notices = start()
	defer svc.Stop()
	if notices != "" {
		t.Errorf("second start printed %q", notices)
	}
	if _, total, _ := svc.Store().List(ctx, model.KindRoute, store.ListOptions{}); total != 0 {
		t.Errorf("demo reloaded into a used database: %d routes", total)
	}
	users, _ := svc.Store().CountUsers(ctx)
	if users != 1 {
		t.Errorf("%d users after restart, want 1", users)
	}
}

func TestUIHandler(t *testing.T) {
	dist := fstest.MapFS{
		"index.html":         {Data: []byte("<html>app</html>")},
		"assets/app-1a2b.js": {Data: []byte("console.log(1)")},
	}
	tests := map[string]struct {
		built      bool
		path       string
		status     int
		body       string
		cacheImmut bool
	}{
		"index":             {true, "/", 200, "app", false},
		"client route":      {true, "/routes/web", 200, "app", false},
		"asset":             {true, "/assets/app-1a2b.js", 200, "console", true},
		"api is never html": {true, "/api/v2/x", 404, "", false},
		"not built notice":  {false, "/routes", 200, "make build", false},
		"not built api":     {false, "/api/x", 404, "", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			uiHandler(dist, tc.built).ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) {
				t.Errorf("%d %q", rec.Code, rec.Body.String())
			}
			if immut := strings.Contains(rec.Header().Get("Cache-Control"), "immutable"); immut != tc.cacheImmut {
				t.Errorf("Cache-Control %q", rec.Header().Get("Cache-Control"))
			}
		})
	}
}
