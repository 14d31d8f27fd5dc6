// Package frontend embeds the built console UI (Vite output in dist/) so the
// server binary and the desktop app carry it. `make build` runs the Vite
// build first; a bare `go build` still works and serves a notice page.
package frontend

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist returns the built UI, rooted at dist/.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // dist is embedded at build time; Sub cannot fail on it
	}
	return sub
}

// Built reports whether dist holds a built UI (index.html) rather than only
// the placeholder that keeps the embed directive satisfied.
func Built() bool {
	_, err := fs.Stat(Dist(), "index.html")
	return err == nil
}
