package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/routedeck/routedeck/backend/routetest"
)

func newEditCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "edit KIND NAME",
		Short: "Edit a gateway, upstream, route, secret or route test in $EDITOR and save it",
		Long: `edit opens the object as apply reads it in $VISUAL or $EDITOR (default vi)
and saves it when the editor exits. The save names the version that was
opened, so an edit made meanwhile by someone else is refused rather than
overwritten. Leaving the file unchanged saves nothing; when the server
refuses the edit, the edited file is kept and its path printed.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, coll, err := kindArg(args[0])
			if err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			ctx, name := cmd.Context(), args[1]
			path := "/" + coll + "/" + url.PathEscape(name)
			var raw []byte
			if err := c.do(ctx, "GET", path, nil, &raw); err != nil {
				return err
			}
			doc, version, err := editable(kind, raw)
			if err != nil {
				return err
			}
			tmp, err := os.CreateTemp("", "routedeck-edit-*.yaml")
			if err != nil {
				return err
			}
			file := tmp.Name()
			header := fmt.Sprintf("# %s/%s at version %d. Save and exit to store it; leave it unchanged to cancel.\n", kind, name, version)
			_, werr := tmp.Write(append([]byte(header), doc...))
			if cerr := tmp.Close(); werr != nil || cerr != nil {
				os.Remove(file)
				return fmt.Errorf("write %s: %w", file, errors.Join(werr, cerr))
			}
			if err := runEditor(cmd, file); err != nil {
				os.Remove(file)
				return err
			}
			edited, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			if bytes.Equal(edited, append([]byte(header), doc...)) {
				os.Remove(file)
				fmt.Fprintf(o.stderr, "routedeck: %s/%s unchanged: nothing saved\n", kind, name)
				return nil
			}
			if err := saveEdited(ctx, c, kind, path, name, file, edited, version); err != nil {
				return fmt.Errorf("%w\nroutedeck: your edit is kept in %s", err, file)
			}
			os.Remove(file)
			fmt.Fprintf(o.stdout, "%s/%s updated\n", kind, name)
			return nil
		},
	}
}

// editable renders an API answer as the document to edit, with its version.
func editable(kind string, raw []byte) ([]byte, int64, error) {
	var b bytes.Buffer
	if kind == kindRouteTest {
		var t routetest.Test
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, 0, fmt.Errorf("decode test: %w", err)
		}
		err := writeTestDocs(&b, []routetest.Test{t})
		return b.Bytes(), t.Version, err
	}
	obj, err := objectFromView(kind, raw)
	if err != nil {
		return nil, 0, err
	}
	doc, err := manifestYAML(obj)
	return doc, obj.ObjectMeta().Version, err
}

// runEditor opens file in the user's editor, attached to the terminal.
func runEditor(cmd *cobra.Command, file string) error {
	editor := os.Getenv("VISUAL")
	if editor == "" {
		editor = os.Getenv("EDITOR")
	}
	if editor == "" {
		editor = "vi"
	}
	// The variable may hold arguments ("code --wait"); the shell splits
	// them as it does for every other program that reads it.
	ed := exec.CommandContext(cmd.Context(), "sh", "-c", editor+` "$1"`, "sh", file)
	ed.Stdin, ed.Stdout, ed.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := ed.Run(); err != nil {
		return fmt.Errorf("editor %q: %w", editor, err)
	}
	return nil
}

// saveEdited stores the edited document over version.
func saveEdited(ctx context.Context, c *client, kind, path, name, file string, data []byte, version int64) error {
	if kind == kindRouteTest {
		tests, rest, problems := testDocs(file, data)
		if len(problems) > 0 {
			return joinProblems(problems, nil)
		}
		if len(tests) != 1 || strings.TrimSpace(stripComments(rest)) != "" {
			return fmt.Errorf("%s: keep exactly one RouteTest document", file)
		}
		t := tests[0]
		if t.Name != name {
			return fmt.Errorf("%s: name %q: renaming is not supported; keep %q", file, t.Name, name)
		}
		t.Version = version
		return withFile(file, c.do(ctx, "PUT", path, t, nil))
	}
	f, err := loadManifest(file, data)
	if err != nil {
		return err
	}
	objs := f.Workspace.Objects()
	if len(objs) != 1 || objs[0].Kind() != kind {
		return fmt.Errorf("%s: keep exactly one %s document", file, kind)
	}
	meta := objs[0].ObjectMeta()
	if meta.Name != name {
		return fmt.Errorf("%s: name %q: renaming is not supported; keep %q", file, meta.Name, name)
	}
	meta.Version = version
	return f.Explain(c.do(ctx, "PUT", path, objs[0], nil))
}

// stripComments drops YAML comment lines and blank lines.
func stripComments(data []byte) string {
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") && t != "---" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
