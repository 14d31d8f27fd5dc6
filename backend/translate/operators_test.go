package translate

import (
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
)

// TestEveryOperatorTranslates runs every operator of the model's table on
// every field that accepts it through the translator, so an operator added
// to the table without its Envoy form fails here.
func TestEveryOperatorTranslates(t *testing.T) {
	fields := []string{model.FieldHost, model.FieldPath, model.FieldMethod, model.FieldScheme,
		"header[x-a]", "query[q]", "cookie[c]", model.FieldGRPC, model.FieldGRPCService, model.FieldGRPCMethod}
	// Envoy has no inverted query parameter matcher: these are refused
	// with a reason, not translated.
	refused := map[string]string{
		"not-equals/query[q]": "cannot be expressed in Envoy",
		"not-in/query[q]":     "cannot be expressed in Envoy",
	}
	for _, op := range model.Operators {
		for _, field := range fields {
			kind, _, _ := model.ParseField(field)
			if !op.AppliesTo(kind) {
				continue
			}
			t.Run(op.Name+"/"+field, func(t *testing.T) {
				v := "v1"
				switch {
				case op.Name == model.OpRegex:
					v = "v[0-9]+"
				case kind == model.FieldPath:
					v = "/v1"
				case kind == model.FieldHost:
					v = "v1.example.com"
				}
				c := model.Condition{Field: field, Op: op.Name}
				switch op.Shape {
				case model.ShapeValue:
					c.Value = v
				case model.ShapeValues:
					c.Values = []string{v, v + "x"}
				}
				if err := c.Validate(); err != nil {
					t.Fatalf("%+v does not validate: %v", c, err)
				}
				ws := model.Workspace{
					Gateways: []model.Gateway{{Meta: model.Meta{Name: "gw"},
						Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}},
					Upstreams: []model.Upstream{{Meta: model.Meta{Name: "web"},
						Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.1", Port: 80}}}}},
					Routes: []model.Route{{Meta: model.Meta{Name: "r"}, Gateway: "gw", When: c,
						Then: model.Action{Forward: []model.Backend{{Upstream: "web"}}}}},
				}
				_, err := Gateway(ws, "gw", Options{})
				if want, ok := refused[op.Name+"/"+field]; ok {
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Errorf("%+v: error %v, want one saying %q", c, err, want)
					}
					return
				}
				if err != nil {
					t.Errorf("%+v: %v", c, err)
				}
			})
		}
	}
}
