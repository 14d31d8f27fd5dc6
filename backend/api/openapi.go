package api

import (
	_ "embed"
	"net/http"
)

// openAPI describes every route NewHandler registers; TestOpenAPICoversRoutes
// keeps the two in step, and x-required-role records each route's role.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}
