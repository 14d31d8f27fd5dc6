package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/convert"
	"github.com/routedeck/routedeck/backend/input"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
)

// importRequest is the body of POST /import: a file of another tool's
// configuration, converted into routes (and upstreams) of Gateway as
// `routedeck import` does. Without Apply nothing is stored: the answer is
// the preview.
type importRequest struct {
	// Format is gateway-api, ingress, kong or openapi.
	Format string `json:"format"`
	// Content is the file itself (YAML or JSON), at most input.MaxBytes.
	Content string `json:"content"`
	Gateway string `json:"gateway"`
	Apply   bool   `json:"apply,omitempty"`
	// OpenAPI says where the routes of an OpenAPI document go; only for
	// that format, which needs its upstream.
	OpenAPI *importOpenAPI `json:"openapi,omitempty"`
}

type importOpenAPI struct {
	Upstream string `json:"upstream"`
	Host     string `json:"host,omitempty"`
	Prefix   string `json:"prefix,omitempty"`
}

// importResponse is the converted workspace and the report of what did
// not translate. Problems are what would stop the objects from being
// applied to the current draft (an unknown gateway or upstream, a name
// taken); Applied is set once they were.
type importResponse struct {
	Report    []convert.Issue     `json:"report"`
	Workspace model.Workspace     `json:"workspace"`
	Problems  []model.FieldError  `json:"problems"`
	Applied   []store.ApplyResult `json:"applied,omitempty"`
}

// importers are the converters by format name, as the CLI names them.
var importers = map[string]func(data []byte, req importRequest) (convert.Result, error){
	"gateway-api": func(data []byte, req importRequest) (convert.Result, error) {
		return convert.GatewayAPI(data, req.Gateway)
	},
	"ingress": func(data []byte, req importRequest) (convert.Result, error) {
		return convert.Ingress(data, req.Gateway)
	},
	"kong": func(data []byte, req importRequest) (convert.Result, error) { return convert.Kong(data, req.Gateway) },
	"openapi": func(data []byte, req importRequest) (convert.Result, error) {
		o := req.OpenAPI
		return convert.OpenAPI(data, convert.OpenAPIOptions{Gateway: req.Gateway, Upstream: o.Upstream, Host: o.Host, Prefix: o.Prefix})
	},
}

var importFormats = []string{"gateway-api", "ingress", "kong", "openapi"}

// checkImport reports every problem of the request itself at once.
func checkImport(req importRequest) error {
	var p model.Problems
	if _, ok := importers[req.Format]; !ok {
		p.Add("format", "must be one of %s", strings.Join(importFormats, ", "))
	}
	switch {
	case strings.TrimSpace(req.Content) == "":
		p.Add("content", "required: the file to import")
	case len(req.Content) > input.MaxBytes:
		p.Add("content", "is %d bytes; at most %d are imported", len(req.Content), input.MaxBytes)
	}
	if req.Gateway == "" {
		p.Add("gateway", "required: the gateway the routes belong to")
	}
	switch {
	case req.Format == "openapi" && (req.OpenAPI == nil || req.OpenAPI.Upstream == ""):
		p.Add("openapi.upstream", "required: the upstream every route of the document forwards to")
	case req.Format != "openapi" && req.OpenAPI != nil:
		p.Add("openapi", "only for format openapi")
	}
	return p.Err()
}

func (s *server) importFile(w http.ResponseWriter, r *http.Request) {
	var req importRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkImport(req); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := importers[req.Format]([]byte(req.Content), req)
	if err != nil {
		s.writeError(w, r, importError(err))
		return
	}
	if len(res.Workspace.Routes) == 0 {
		s.writeError(w, r, fieldError("content", fmt.Sprintf("nothing to import: no %s route in the file", req.Format)))
		return
	}
	out := importResponse{Report: res.Report, Workspace: res.Workspace, Problems: []model.FieldError{}}
	if out.Report == nil {
		out.Report = []convert.Issue{}
	}
	ws := res.Workspace
	err = s.checkWorkspace(r, &ws, nil)
	if model.ErrorCode(err) == model.EINVALID && !req.Apply {
		// The preview shows what applying would refuse, next to the objects.
		out.Problems = model.ErrorFields(err)
		writeJSON(w, http.StatusOK, out)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Apply {
		out.Applied, err = s.Store.Apply(r.Context(), auth.Actor(r.Context()), ws)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// importError is a converter's error as the API reports it: what is wrong
// with the file keeps the converter's field paths; anything else (a YAML
// syntax error, an input limit) is about the content as a whole.
func importError(err error) error {
	if model.ErrorCode(err) == model.EINVALID && len(model.ErrorFields(err)) > 0 {
		return err
	}
	return fieldError("content", err.Error())
}
