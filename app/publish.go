package app

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/routedeck/routedeck/backend/api"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/routetest"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/backend/xds"
)

// adsPublisher publishes gateways to the Envoys connected over ADS: it
// records the version in the store and serves its translation as the
// gateway's snapshot, labelled with the version number.
type adsPublisher struct {
	store *store.Store
	ads   *xds.Server
	log   *slog.Logger
	// tests is the sandbox data plane route tests also run through before
	// a publish; nil runs them through the reference evaluator only.
	tests routetest.DataPlane
	// feed translates with the discovered endpoints and keeps them current.
	feed *endpointFeed
	// consul, when set, also writes published workspaces to Consul's KV.
	consul consulKV
}

var _ api.Publisher = (*adsPublisher)(nil)

// Publish translates the draft first, so a draft Envoy cannot take never
// becomes a published version, then runs the gateway's route tests on it:
// any failure refuses the publish (ECONFLICT, one field error per failed
// expectation) unless force is set. A forced publish is recorded in the
// audit log as publish.force with what failed, before anything is
// published, so it cannot happen unrecorded.
func (p *adsPublisher) Publish(ctx context.Context, actor, gateway string, force bool) (int64, error) {
	ws, err := p.store.GatewayWorkspace(ctx, gateway)
	if err != nil {
		return 0, err
	}
	if _, err := p.translate(ws, gateway); err != nil {
		return 0, err
	}
	tests, err := routetest.Load(ctx, p.store, gateway)
	if err != nil {
		return 0, fmt.Errorf("load route tests of %q: %w", gateway, err)
	}
	rep := routetest.Run(ctx, ws, tests, p.tests)
	note := ""
	if force {
		note = "forced"
		detail := fmt.Sprintf("%d route tests passed, %d failed", rep.Passed, rep.Failed)
		if err := rep.Err(model.ECONFLICT); err != nil {
			detail = err.Error()
		}
		if err := p.store.Audit(ctx, store.AuditEntry{Actor: actor, Action: "publish.force", Target: gateway, Detail: detail}); err != nil {
			return 0, err
		}
	} else if err := rep.Err(model.ECONFLICT); err != nil {
		return 0, err
	}
	pub, err := p.store.Publish(ctx, actor, gateway, note)
	if err != nil {
		return 0, err
	}
	// Serve exactly what was recorded, even if the draft moved meanwhile.
	if err := p.serve(ctx, pub); err != nil {
		return 0, err
	}
	p.pushConsul(ctx, actor, pub)
	return pub.Version, nil
}

// Rollback checks that the old version still translates, then republishes it.
func (p *adsPublisher) Rollback(ctx context.Context, actor, gateway string, version int64) (int64, error) {
	old, err := p.store.GetPublished(ctx, gateway, version)
	if err != nil {
		return 0, err
	}
	if _, err := p.translate(old.Workspace, gateway); err != nil {
		return 0, fmt.Errorf("version %d no longer translates: %w", version, err)
	}
	pub, err := p.store.Rollback(ctx, actor, gateway, version)
	if err != nil {
		return 0, err
	}
	if err := p.serve(ctx, pub); err != nil {
		return 0, err
	}
	p.pushConsul(ctx, actor, pub)
	return pub.Version, nil
}

// translate translates gateway of ws and records how long it took in the
// ADS server's translation histogram (routedeck_xds_translation_duration_
// seconds), failed translations included: a rule set that takes long to
// refuse is worth seeing too.
func (p *adsPublisher) translate(ws model.Workspace, gateway string) (*translate.Resources, error) {
	start := time.Now()
	res, err := translate.Gateway(ws, gateway, translate.Options{})
	p.ads.Metrics().ObserveTranslation(time.Since(start))
	return res, err
}

// Proxies reports the gateway's proxies as the API shows them.
func (p *adsPublisher) Proxies(ctx context.Context, gateway string) ([]api.Proxy, error) {
	if _, err := p.store.Get(ctx, model.KindGateway, gateway); err != nil {
		return nil, err
	}
	var out []api.Proxy
	for _, ps := range p.ads.Proxies(gateway) {
		proxy := api.Proxy{Node: ps.Node, Connected: ps.Connected, Acked: ps.Acked, InSync: p.ads.InSync(gateway, ps.Acked)}
		if ps.Nack != nil {
			proxy.Nack = &api.Nack{TypeURL: ps.Nack.TypeURL, Error: ps.Nack.Error, Rule: ps.Nack.Rule}
		}
		out = append(out, proxy)
	}
	return out, nil
}

// serve translates pub with the discovered endpoints and serves it.
func (p *adsPublisher) serve(ctx context.Context, pub store.Published) error {
	if _, err := p.feed.serve(ctx, pub); err != nil {
		return fmt.Errorf("serve gateway %q version %d: %w", pub.Gateway, pub.Version, err)
	}
	return nil
}

// versionLabel is the snapshot version of a published version.
func versionLabel(v int64) string { return strconv.FormatInt(v, 10) }

// restore serves the latest published version of every gateway, so Envoys
// get their configuration back after a restart without a new publish. The
// discovered upstreams of those versions get a few seconds to report first.
func (p *adsPublisher) restore(ctx context.Context) {
	gws, _, err := p.store.List(ctx, model.KindGateway, store.ListOptions{Limit: 1000})
	if err != nil {
		p.log.Error("restore published gateways", "err", err)
		return
	}
	var pubs []store.Published
	for _, gw := range gws {
		name := gw.ObjectMeta().Name
		pub, err := p.store.GetPublished(ctx, name, 0)
		if model.ErrorCode(err) == model.ENOTFOUND {
			continue
		}
		if err != nil {
			p.log.Error("restore published gateway", "gateway", name, "err", err)
			continue
		}
		pubs = append(pubs, pub)
	}
	p.feed.prime(ctx, pubs, restoreWait)
	for _, pub := range pubs {
		if err := p.serve(ctx, pub); err != nil {
			p.log.Error("restore published gateway", "gateway", pub.Gateway, "err", err)
			continue
		}
		p.log.Info("serving published gateway", "gateway", pub.Gateway, "version", pub.Version)
	}
}

// restoreWait bounds how long a start waits for discovery before serving
// the published gateways.
const restoreWait = 5 * time.Second
