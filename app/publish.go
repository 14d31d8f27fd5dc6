package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/routedeck/routedeck/backend/api"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/release"
	replayapi "github.com/routedeck/routedeck/backend/replay"
	"github.com/routedeck/routedeck/backend/replica"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/ruleset"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/targets"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/sandbox/replay"
)

// publisher is the API's Publisher: the release service's publish flow,
// and the ADS server's view of the gateway's proxies.
type publisher struct {
	*release.Service
	store *store.Store
	ads   *xds.Server
	// targets, when set, reach the Consul the xDS replicas report to.
	targets *targets.Service
	log     *slog.Logger
}

var _ api.Publisher = publisher{}

// Publish implements api.Publisher.
func (p publisher) Publish(ctx context.Context, actor, gateway string, o api.PublishOptions) (api.PublishResult, error) {
	res, err := p.Service.Publish(ctx, actor, gateway, release.Overrides{Tests: o.Force, Gate: o.OverrideGate})
	return api.PublishResult{Version: res.Version, Unchanged: res.Unchanged}, err
}

// Proxies reports the gateway's proxies as the API shows them: those of
// this server's ADS and, with KV publishing to Consul on, those the xDS
// replicas report there. A proxy that moved between servers is listed
// once, where it is connected now.
func (p publisher) Proxies(ctx context.Context, gateway string) ([]api.Proxy, error) {
	if _, err := p.store.Get(ctx, model.KindGateway, gateway); err != nil {
		return nil, err
	}
	var all []replica.Proxy
	for _, ps := range p.ads.Proxies(gateway) {
		all = append(all, replica.Proxy{Node: ps.Node, Connected: ps.Connected, ConnectedSince: ps.ConnectedSince,
			Acked: ps.Acked, InSync: p.ads.InSync(gateway, ps.Acked), Nack: ps.Nack})
	}
	all = append(all, p.replicaProxies(ctx, gateway)...)
	var out []api.Proxy
	for _, ps := range replica.Dedupe(all) {
		proxy := api.Proxy{Node: ps.Node, Connected: ps.Connected, Acked: ps.Acked, InSync: ps.InSync, Replica: ps.Replica}
		if ps.Nack != nil {
			proxy.Nack = &api.Nack{TypeURL: ps.Nack.TypeURL, Error: ps.Nack.Error, Rule: ps.Nack.Rule}
		}
		out = append(out, proxy)
	}
	return out, nil
}

// replicaProxies are the gateway's proxies the xDS replicas report, when
// KV publishing is on. Consul being away costs the list those, not the
// answer: they are logged.
func (p publisher) replicaProxies(ctx context.Context, gateway string) []replica.Proxy {
	if p.targets == nil {
		return nil
	}
	st, err := p.targets.Settings(ctx)
	if err != nil || !st.Consul.KVPublish {
		return nil
	}
	client, err := p.targets.Consul(ctx)
	if err == nil {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		var proxies []replica.Proxy
		proxies, err = replica.ReadProxies(rctx, client, gateway)
		if err == nil {
			return proxies
		}
	}
	p.log.Warn("the xDS replicas' proxies cannot be read from consul", "gateway", gateway, "err", err)
	return nil
}

// gateReplayer replays for the publish gate: the replay engine with the
// workspace about to be published as the draft, so what is judged is what
// would be recorded even if the draft moves meanwhile.
type gateReplayer struct{ engine *replay.Engine }

var _ release.Replayer = gateReplayer{}

// ReplayDraft implements release.Replayer.
func (g gateReplayer) ReplayDraft(ctx context.Context, gateway string, draft model.Workspace, window time.Duration) (replayapi.Report, error) {
	e := *g.engine
	e.Versions = publishingDraft{Versions: g.engine.Versions, gateway: gateway, draft: draft}
	return e.Replay(ctx, gateway, replayapi.Request{Source: replayapi.Source{Since: window.String()}, From: replayapi.Live, To: replayapi.Draft})
}

// publishingDraft is the loaded versions with the draft of gateway
// replaced by the workspace being published.
type publishingDraft struct {
	replay.Versions
	gateway string
	draft   model.Workspace
}

// Load implements replay.Versions.
func (v publishingDraft) Load(ctx context.Context, gateway string, version ruleset.Version) (*ruleset.Rules, error) {
	if gateway != v.gateway || !version.IsDraft() {
		return v.Versions.Load(ctx, gateway, version)
	}
	// Not cached: the workspace is not the draft the store holds.
	return &ruleset.Rules{Gateway: gateway, Version: ruleset.Draft, Workspace: v.draft,
		Program: rules.Compile(v.draft.Routes, gateway)}, nil
}
