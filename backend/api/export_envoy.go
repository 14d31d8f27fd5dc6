package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/go-chi/chi/v5"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/translate"
)

// EnvoyTranslator translates a gateway the way its proxies receive it,
// with the endpoints discovery reports for Kubernetes and Consul upstreams.
// Without one the Envoy export translates with static and DNS endpoints
// only.
type EnvoyTranslator interface {
	TranslateGateway(ws model.Workspace, gateway string) (*translate.Resources, error)
}

// EnvoyResource is one item of GET /gateways/{name}/export/envoy: an Envoy
// v3 resource in its protojson form (proto field names), with its type URL.
type EnvoyResource struct {
	Type     string          `json:"type"`
	Name     string          `json:"name"`
	Resource json.RawMessage `json:"resource"`
}

// envoyExportTypes are the values of the type parameter besides "all", in
// the order the export lists them: from the listener a request arrives on
// to what its routes name, so the output reads top down.
var envoyExportTypes = []string{"listeners", "routes", "clusters", "endpoints", "secrets"}

// exportEnvoy answers the Envoy resources routedeck generates for a
// gateway: from the draft, or from ?version=N. Credentials (TLS private
// keys, htpasswd hashes, API keys) read as their fingerprints, so a viewer
// may export. ?secrets=true leaves them in, as Envoy gets them: admins
// only, and audited, since the answer then holds every credential of the
// gateway.
func (s *server) exportEnvoy(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	q := r.URL.Query()
	var problems model.Problems
	typ := q.Get("type")
	if typ == "" {
		typ = "all"
	}
	if typ != "all" && !slices.Contains(envoyExportTypes, typ) {
		problems.Add("type", "must be all or one of %s, not %q", strings.Join(envoyExportTypes, ", "), typ)
	}
	var version int64
	if v := q.Get("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			problems.Add("version", "must be a published version number (1, 2, ...), not %q", v)
		}
		version = n
	}
	var withSecrets bool
	switch v := q.Get("secrets"); v {
	case "", "false":
	case "true":
		withSecrets = true
	default:
		problems.Add("secrets", "must be true or false, not %q", v)
	}
	if err := problems.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	if p, _ := auth.FromContext(ctx); withSecrets && !auth.Allows(p.Role, auth.RoleAdmin) {
		s.writeError(w, r, model.Errorf(model.EFORBIDDEN, "exporting with secrets needs role admin, you have %s", p.Role))
		return
	}
	if _, err := s.Store.Get(ctx, model.KindGateway, name); err != nil {
		s.writeError(w, r, err)
		return
	}
	var ws model.Workspace
	if version > 0 {
		pub, err := s.Store.GetPublished(ctx, name, version)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ws = pub.Workspace
	} else {
		var err error
		if ws, err = s.Store.GatewayWorkspace(ctx, name); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	var res *translate.Resources
	var err error
	if s.Translator != nil {
		res, err = s.Translator.TranslateGateway(ws, name)
	} else {
		res, err = translate.Gateway(ws, name, translate.Options{})
	}
	if err == nil && !withSecrets {
		res, err = translate.Redacted(res, ws, s.Fingerprinter)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if withSecrets {
		from := "draft"
		if version > 0 {
			from = fmt.Sprintf("published version %d", version)
		}
		// Unlike other audit entries of reads, no answer without it: the
		// record of who took the credentials is the point.
		if err := s.Store.Audit(ctx, store.AuditEntry{Actor: auth.Actor(ctx), Action: "gateway.export.envoy.secrets",
			Target: name, Detail: fmt.Sprintf("%s resources of the %s, credentials included", typ, from)}); err != nil {
			s.writeError(w, r, fmt.Errorf("audit export with secrets: %w", err))
			return
		}
	}
	items, err := envoyItems(res, typ)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

// envoyItems renders the resources of typ ("all" for every type).
func envoyItems(res *translate.Resources, typ string) ([]EnvoyResource, error) {
	type group struct {
		typ, url string
		list     []proto.Message
	}
	groups := []group{
		{"listeners", resourcev3.ListenerType, messages(res.Listeners)},
		{"routes", resourcev3.RouteType, messages(res.Routes)},
		{"clusters", resourcev3.ClusterType, messages(res.Clusters)},
		{"endpoints", resourcev3.EndpointType, messages(res.Endpoints)},
		{"secrets", resourcev3.SecretType, messages(res.Secrets)},
	}
	// Proto field names are what Envoy's own YAML examples and
	// router_check_tool's configurations use.
	opts := protojson.MarshalOptions{UseProtoNames: true}
	items := []EnvoyResource{}
	for _, g := range groups {
		if typ != "all" && typ != g.typ {
			continue
		}
		for _, m := range g.list {
			raw, err := opts.Marshal(m)
			if err != nil {
				return nil, fmt.Errorf("render %s %q: %w", g.typ, cachev3.GetResourceName(m), err)
			}
			items = append(items, EnvoyResource{Type: g.url, Name: cachev3.GetResourceName(m), Resource: raw})
		}
	}
	return items, nil
}

func messages[T proto.Message](list []T) []proto.Message {
	out := make([]proto.Message, len(list))
	for i, m := range list {
		out[i] = m
	}
	return out
}
