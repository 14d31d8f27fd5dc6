//go:build desktop

// Package desktop opens routedeck as a desktop window (Wails v2). The window
// shows the same dashboard the browser does: the API's chi router is the
// Wails AssetServer handler, so the UI calls the same /api/v1 URLs in both.
//
// The desktop app is a local, single-user tool: its workspace lives in the
// user's config directory and every request runs as a local admin, because
// the webview is the only client that can reach this handler.
package desktop

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/options/linux"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/assets"
	"github.com/routedeck/routedeck/backend/auth"
)

// LocalUser is the name revisions and the audit log record for desktop edits.
const LocalUser = "local"

// Run opens the window and blocks until it is closed. It returns the
// process exit status.
func Run() int {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	dataDir, err := DataDir()
	if err != nil {
		logger.Error("desktop: no data directory", "err", err)
		return 1
	}
	svc := app.New(app.Config{
		DataDir: dataDir,
		// The ADS server lets a local Envoy or the sandbox connect, exactly
		// as with `routedeck serve`; HTTP is served to the window only.
		ADSListen: envOr("ROUTEDECK_ADS_LISTEN", "127.0.0.1:18000"),
		Logger:    logger,
		// Every request of the window runs as the local admin: no
		// password account to create, and none to print.
		NoFirstAdmin: true,
	})
	h := &lazyHandler{ready: make(chan struct{})}
	err = wails.Run(&options.App{
		Title:     "routedeck",
		Width:     1360,
		Height:    860,
		MinWidth:  960,
		MinHeight: 600,
		AssetServer: &assetserver.Options{
			Handler: h,
		},
		// Services start here, not before wails.Run: the Wails tooling runs
		// the binary to inspect it, and that must not open the database.
		OnStartup: func(ctx context.Context) {
			if err := svc.Start(ctx); err != nil {
				logger.Error("desktop: start services", "err", err)
				h.fail(err)
				return
			}
			h.serve(asLocalAdmin(svc.Handler()))
		},
		OnShutdown: func(context.Context) {
			if err := svc.Stop(); err != nil {
				logger.Error("desktop: stop services", "err", err)
			}
		},
		Linux: &linux.Options{
			Icon:        assets.Icon,
			ProgramName: "routedeck",
		},
	})
	if err != nil {
		logger.Error("desktop: window", "err", err)
		return 1
	}
	return 0
}

// DataDir is where the desktop workspace lives: ROUTEDECK_DATA_DIR, else
// routedeck/ in the user's config directory.
func DataDir() (string, error) {
	if d := os.Getenv("ROUTEDECK_DATA_DIR"); d != "" {
		return d, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("user config dir: %w", err)
	}
	return filepath.Join(base, "routedeck"), nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// asLocalAdmin runs every request as the local user. Requests carrying
// their own credentials (a token pasted into the UI) still authenticate as
// themselves, because the API's middleware replaces the principal.
func asLocalAdmin(next http.Handler) http.Handler {
	p := auth.Principal{Name: LocalUser, Role: auth.RoleAdmin}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// lazyHandler holds requests until OnStartup has built the real handler:
// the webview may ask for the page before the services are up.
type lazyHandler struct {
	once  sync.Once
	ready chan struct{}
	h     http.Handler
	err   error
}

func (l *lazyHandler) serve(h http.Handler) {
	l.once.Do(func() { l.h = h; close(l.ready) })
}

func (l *lazyHandler) fail(err error) {
	l.once.Do(func() { l.err = err; close(l.ready) })
}

func (l *lazyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-l.ready:
	case <-r.Context().Done():
		return
	}
	if l.err != nil {
		http.Error(w, "routedeck could not start: "+l.err.Error(), http.StatusServiceUnavailable)
		return
	}
	l.h.ServeHTTP(w, r)
}
