package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
)

// TestExportOpenAPICommand: the printed document is valid OpenAPI 3.1 by
// libopenapi-validator, in JSON and YAML, and what it cannot carry is on
// stderr.
func TestExportOpenAPICommand(t *testing.T) {
	e := newEnv(t)
	if _, errOut, code := e.client(t, "apply", "-f", "testdata/shop.yaml"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	for _, format := range []string{"json", "yaml"} {
		out, errOut, code := e.client(t, "export", "openapi", "--gateway", "edge", "--format", format)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", format, code, errOut)
		}
		doc, err := libopenapi.NewDocument([]byte(out))
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		v, errs := validator.NewValidator(doc)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if ok, verrs := v.ValidateDocument(); !ok {
			t.Fatalf("%s: invalid OpenAPI: %v", format, verrs[0].Reason)
		}
		if !strings.Contains(out, "shop.example.com:8080") || !strings.Contains(out, "shop-home") {
			t.Errorf("%s document lacks the host or the rule:\n%s", format, out)
		}
		if !strings.Contains(errOut, "rule shop-home documented loosely: matches every path under /") {
			t.Errorf("%s: stderr %q", format, errOut)
		}
	}
	file := filepath.Join(t.TempDir(), "edge.json")
	if _, errOut, code := e.client(t, "export", "openapi", "--gateway", "edge", "--out", file); code != 0 || !strings.Contains(errOut, "version draft") {
		t.Fatalf("--out: %d %s", code, errOut)
	}
	if data, err := os.ReadFile(file); err != nil || !strings.Contains(string(data), `"openapi": "3.1.0"`) {
		t.Errorf("written file: %v %s", err, data)
	}
	if _, errOut, code := e.client(t, "export", "openapi", "--gateway", "nope"); code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("unknown gateway: %d %s", code, errOut)
	}
}
