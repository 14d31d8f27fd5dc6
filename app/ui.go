package app

import (
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/routedeck/routedeck/frontend"
)

// UIHandler serves the embedded dashboard. Paths that are not files get
// index.html so the single-page app can route them; /api paths never do, so
// a mistyped API URL is an honest 404. Without a built UI it serves a page
// saying how to build one.
func UIHandler() http.Handler { return uiHandler(frontend.Dist(), frontend.Built()) }

func uiHandler(dist fs.FS, built bool) http.Handler {
	if !built {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/api/") {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(notBuiltPage))
		})
	}
	files := http.FileServerFS(dist)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			http.NotFound(w, r)
			return
		}
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name == "" {
			name = "index.html"
		}
		if st, err := fs.Stat(dist, name); err != nil || st.IsDir() {
			// A client-side route such as /routes/web: the app handles it.
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, dist, "index.html")
			return
		}
		if strings.HasPrefix(name, "assets/") {
			// Vite puts content hashes in these names.
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		files.ServeHTTP(w, r)
	})
}

const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>routedeck</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}code{background:#eee;padding:0 .3em}</style>
</head><body>
<h1>routedeck</h1>
<p>The API is running at <a href="/api/v1/health"><code>/api/v1</code></a>, but this binary was built without the dashboard.</p>
<p>Build it with <code>make build</code> (or <code>npm ci &amp;&amp; npm run build</code> in <code>frontend/</code>, then <code>go build</code>) and start the server again.</p>
</body></html>
`
