package convert

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
)

// ingress is the part of networking.k8s.io/v1 Ingress the importer reads.
type ingress struct {
	Spec struct {
		IngressClassName string          `json:"ingressClassName"`
		DefaultBackend   *ingressBackend `json:"defaultBackend"`
		TLS              []struct {
			Hosts      []string `json:"hosts"`
			SecretName string   `json:"secretName"`
		} `json:"tls"`
		Rules []struct {
			Host string `json:"host"`
			HTTP *struct {
				Paths []struct {
					Path     string         `json:"path"`
					PathType string         `json:"pathType"`
					Backend  ingressBackend `json:"backend"`
				} `json:"paths"`
			} `json:"http"`
		} `json:"rules"`
	} `json:"spec"`
}

type ingressBackend struct {
	Service *struct {
		Name string `json:"name"`
		Port struct {
			Number int    `json:"number"`
			Name   string `json:"name"`
		} `json:"port"`
	} `json:"service"`
	Resource json.RawMessage `json:"resource"`
}

// Ingress converts every networking.k8s.io/v1 Ingress of data
// (multi-document YAML) into routes of gateway. Prefix paths match whole
// segments, as the Ingress spec says; ImplementationSpecific is read as a
// plain prefix and reported. Other documents are reported and skipped.
func Ingress(data []byte, gateway string) (Result, error) {
	return convertDocuments(data, gateway, "networking.k8s.io/v1 Ingresses",
		func(d document) bool { return d.Kind == "Ingress" && d.APIVersion == "networking.k8s.io/v1" },
		(*builder).ingress)
}

func (b *builder) ingress(d document, in ingress) {
	obj, ns := d.ref(), d.namespace()
	b.annotations(d, "annotations are controller-specific and not imported")
	for i, t := range in.Spec.TLS {
		b.issue(obj, fmt.Sprintf("spec.tls[%d]", i), "TLS is not imported: add secret %q as a routedeck Secret and list it in a listener of gateway %s (hosts %s)",
			t.SecretName, b.gateway, strings.Join(t.Hosts, ", "))
	}
	base := Name(ns + "-" + d.Metadata.Name)
	base = strings.TrimRight(base[:min(len(base), 50)], "-.")
	for ri, rule := range in.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		hosts, tier, hasHost := hostCondition(nonEmpty(rule.Host))
		for pi, p := range rule.HTTP.Paths {
			pp := fmt.Sprintf("spec.rules[%d].http.paths[%d]", ri, pi)
			up, ok := b.ingressBackend(obj, ns, pp+".backend", p.Backend)
			if !ok {
				continue
			}
			path := p.Path
			if path == "" {
				path = "/"
			}
			key := specificity{hostTier: tier, pathLen: len(path), tie: []string{ns, d.Metadata.Name}, tiePos: []int{ri, pi}}
			var cs []model.Condition
			if hasHost {
				cs = append(cs, hosts)
			}
			switch p.PathType {
			case "Exact":
				key.exactPath = true
				cs = append(cs, model.Pred(model.FieldPath, model.OpExact, path))
			case "Prefix":
				if v := strings.TrimSuffix(path, "/"); v != "" {
					path = v
				}
				cs = append(cs, segmentPrefix(path))
			default:
				b.issue(obj, pp+".pathType", "pathType %q read as a plain (character) prefix", p.PathType)
				cs = append(cs, model.Pred(model.FieldPath, model.OpPrefix, path))
			}
			b.routes = append(b.routes, candidate{key: key, route: model.Route{
				Meta:        model.Meta{Name: Name(fmt.Sprintf("%s-r%d-p%d", base, ri, pi))},
				Gateway:     b.gateway,
				Description: fmt.Sprintf("imported from Ingress %s/%s, rule %d, path %d", ns, d.Metadata.Name, ri, pi),
				When:        all(cs),
				Then:        model.Action{Forward: []model.Backend{{Upstream: up}}},
			}})
		}
	}
	if db := in.Spec.DefaultBackend; db != nil {
		if up, ok := b.ingressBackend(obj, ns, "spec.defaultBackend", *db); ok {
			b.catchAll = append(b.catchAll, model.Route{
				Meta:        model.Meta{Name: Name(base + "-default")},
				Gateway:     b.gateway,
				Description: fmt.Sprintf("imported from Ingress %s/%s, defaultBackend: every request no other rule takes", ns, d.Metadata.Name),
				Then:        model.Action{Forward: []model.Backend{{Upstream: up}}},
			})
		}
	}
}

func (b *builder) ingressBackend(obj, ns, path string, be ingressBackend) (string, bool) {
	if be.Service == nil {
		b.issue(obj, path, "only service backends are imported (resource backends are not): skipped")
		return "", false
	}
	if be.Service.Port.Number == 0 {
		b.issue(obj, path+".service.port", "a named port (%q) cannot be resolved without the cluster: use the port number; skipped", be.Service.Port.Name)
		return "", false
	}
	return b.upstream(ns, be.Service.Name, be.Service.Port.Number), true
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
