package app

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"

	"github.com/routedeck/routedeck/backend/auth"
)

// scrape reads /metrics as a viewer and returns each sample by its series
// ("name{labels}", or the bare name) with its value.
func scrape(t *testing.T, ctx context.Context, addr, token string) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: status %d", resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMetricsAfterPublish publishes through the API to a real ADS client
// that ACKs the listeners and NACKs the clusters, then scrapes /metrics and
// finds pushes, ACKs, NACKs, the connected proxy and the publish's
// translation time.
func TestMetricsAfterPublish(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	svc, call := apiService(t, ctx, auth.RoleEditor)
	tok := newToken(t, ctx, svc, auth.RoleViewer)
	addr := svc.Addr().String()

	before := scrape(t, ctx, addr, tok)
	if got := before["routedeck_xds_translation_duration_seconds_count"]; got != 0 {
		t.Fatalf("translations before any publish: %v", got)
	}
	if code, body := call(auth.RoleEditor, "POST", "/gateways/public/publish", ""); code != http.StatusOK {
		t.Fatalf("publish: %d %s", code, body)
	}

	conn := dialADS(t, svc, "public")
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{Id: "envoy-metrics", Cluster: "public"}
	fetch := func(typeURL string) *discoveryv3.DiscoveryResponse {
		t.Helper()
		if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: typeURL}); err != nil {
			t.Fatal(err)
		}
		r, err := stream.Recv()
		if err != nil || r.TypeUrl != typeURL {
			t.Fatalf("fetch %s: %v %v", typeURL, r.GetTypeUrl(), err)
		}
		return r
	}
	lds := fetch(resource.ListenerType)
	cds := fetch(resource.ClusterType)
	for _, r := range []*discoveryv3.DiscoveryRequest{
		{Node: node, TypeUrl: resource.ListenerType, VersionInfo: lds.VersionInfo, ResponseNonce: lds.Nonce},
		{Node: node, TypeUrl: resource.ClusterType, ResponseNonce: cds.Nonce,
			ErrorDetail: &status.Status{Code: 3, Message: "cluster rejected for the test"}},
	} {
		if err := stream.Send(r); err != nil {
			t.Fatal(err)
		}
	}

	want := map[string]float64{
		`routedeck_xds_pushes_total{type_url="` + resource.ListenerType + `"}`: 1,
		`routedeck_xds_pushes_total{type_url="` + resource.ClusterType + `"}`:  1,
		`routedeck_xds_acks_total{type_url="` + resource.ListenerType + `"}`:   1,
		`routedeck_xds_nacks_total{type_url="` + resource.ClusterType + `"}`:   1,
		`routedeck_xds_connected_proxies`:                                      1,
		`routedeck_xds_translation_duration_seconds_count`:                     1,
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := scrape(t, ctx, addr, tok)
		var missing []string
		for series, min := range want {
			if v, ok := got[series]; !ok || v < min {
				missing = append(missing, series+" >= "+strconv.FormatFloat(min, 'g', -1, 64))
			}
		}
		if got["routedeck_xds_translation_duration_seconds_sum"] <= 0 {
			missing = append(missing, "routedeck_xds_translation_duration_seconds_sum > 0")
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks:\n%s", strings.Join(missing, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
