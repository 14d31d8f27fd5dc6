// Package assets carries files that ship inside the binary: the demo
// workspace loaded into an empty database on first start.
package assets

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"

	"github.com/routedeck/routedeck/backend/manifest"
	"github.com/routedeck/routedeck/backend/model"
)

//go:embed demo/*.yaml
var demo embed.FS

// Demo returns the demo workspace files, rooted at demo/.
func Demo() fs.FS {
	sub, err := fs.Sub(demo, "demo")
	if err != nil {
		panic(err) // the directory is embedded; Sub cannot fail on it
	}
	return sub
}

// DemoWorkspace loads every demo file, in name order, into one workspace.
// Conditions are left as text for the caller to resolve.
func DemoWorkspace() (model.Workspace, error) {
	names, err := fs.Glob(Demo(), "*.yaml")
	if err != nil {
		return model.Workspace{}, fmt.Errorf("list demo files: %w", err)
	}
	sort.Strings(names)
	var ws model.Workspace
	for _, name := range names {
		data, err := fs.ReadFile(Demo(), name)
		if err != nil {
			return model.Workspace{}, fmt.Errorf("read demo %s: %w", name, err)
		}
		f, err := manifest.Load(name, data)
		if err != nil {
			return model.Workspace{}, fmt.Errorf("load demo: %w", err)
		}
		for _, obj := range f.Workspace.Objects() {
			ws.Add(obj)
		}
	}
	return ws, nil
}
