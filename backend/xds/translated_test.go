package xds

import (
	"context"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"

	"github.com/routedeck/routedeck/backend/manifest"
	"github.com/routedeck/routedeck/backend/translate"
)

const translatedWorkspace = `
kind: Gateway
name: public
listeners:
  - {name: http, port: 8080, protocol: HTTP}
---
kind: Upstream
name: web
static: {endpoints: [{address: 10.0.0.11, port: 8080}, {address: 10.0.0.12, port: 8080, weight: 2}]}
---
kind: Upstream
name: api
static: {endpoints: [{address: 10.0.1.1, port: 9090}]}
---
kind: Route
name: static-assets
gateway: public
priority: 100
when: {field: path, op: prefix, value: /static}
then:
  forward: [{upstream: web}]
---
kind: Route
name: versioned-api
gateway: public
priority: 50
when: {field: path, op: regex, value: "/v[0-9]+/.*"}
then:
  forward: [{upstream: api, weight: 90}, {upstream: web, weight: 10}]
`

// TestTranslatedGatewayOverADS publishes the real translator's output and
// fetches it as Envoy would: every resource validates, route names carry the
// rules, and a NACK quoting one rule's regex is attributed to that rule.
func TestTranslatedGatewayOverADS(t *testing.T) {
	f, err := manifest.Load("workspace.yaml", []byte(translatedWorkspace))
	if err != nil {
		t.Fatal(err)
	}
	res, err := translate.Gateway(f.Workspace, "public", translate.Options{})
	if err != nil {
		t.Fatalf("translate: %v", err)
	}
	s, addr := startServer(t)
	ctx := context.Background()
	if err := s.SetGateway(ctx, "public", res, "1"); err != nil {
		t.Fatalf("set translated gateway: %v", err)
	}

	c := dialADS(t, addr, "envoy-0", "public")
	got := map[string]*discovery.DiscoveryResponse{}
	for _, typeURL := range []string{resource.ClusterType, resource.EndpointType, resource.ListenerType, resource.RouteType} {
		c.send(&discovery.DiscoveryRequest{TypeUrl: typeURL})
		resp := c.expect(typeURL)
		if n := len(decode(t, resp)); n == 0 {
			t.Fatalf("%s: no resources", typeURL)
		}
		got[typeURL] = resp
	}
	if n := len(got[resource.ClusterType].Resources); n != len(res.Clusters) {
		t.Errorf("CDS has %d clusters, translator made %d", n, len(res.Clusters))
	}

	var routeNames []string
	for _, m := range decode(t, got[resource.RouteType]) {
		for _, vh := range m.(*routev3.RouteConfiguration).VirtualHosts {
			for _, r := range vh.Routes {
				routeNames = append(routeNames, r.Name)
			}
		}
	}
	joined := strings.Join(routeNames, ",")
	for _, rule := range []string{"static-assets", "versioned-api"} {
		if !strings.Contains(joined, "rule/"+rule+"/") {
			t.Errorf("routes %s: none for rule %s", joined, rule)
		}
	}

	rds := got[resource.RouteType]
	c.send(&discovery.DiscoveryRequest{
		TypeUrl: resource.RouteType, ResponseNonce: rds.Nonce,
		ErrorDetail: &status.Status{Code: 3, Message: "Invalid regex '/v[0-9]+/.*': not supported by this build"},
	})
	waitFor(t, "NACK", func() bool { ps := s.Proxies("public"); return len(ps) == 1 && ps[0].Nack != nil })
	if n := s.Proxies("public")[0].Nack; n.Rule != "versioned-api" || n.Version != "1" {
		t.Fatalf("nack = %+v, want rule versioned-api at version 1", n)
	}
}
