package openapimodel

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite backend/api/openapi.json with the generated schemas")

const docPath = "../../backend/api/openapi.json"

// TestDocumentIsUpToDate fails when the OpenAPI document's model schemas
// differ from the model's Go types; -update rewrites them.
func TestDocumentIsUpToDate(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Update(doc)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(docPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, doc) {
		t.Errorf("backend/api/openapi.json does not describe the model as it is; run go test ./internal/openapimodel -update")
	}
}

// TestUnchangedTextIsKept reads and writes a document without changing it
// and gets the same bytes back, compact parts included.
func TestUnchangedTextIsKept(t *testing.T) {
	doc := []byte("{\n  \"a\": { \"type\": \"integer\" },\n  \"b\": [1, 2],\n  \"c\": {\n    \"d\": \"x\"\n  }\n}\n")
	root, err := parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	root.changed = true // rewrite the root, keep its members
	got, err := root.encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, doc) {
		t.Errorf("got\n%s\nwant\n%s", got, doc)
	}
}
