package app

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/routedeck/routedeck/backend/api"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/pki"
	consulpub "github.com/routedeck/routedeck/backend/publish/consul"
	"github.com/routedeck/routedeck/backend/publish/export"
	kubepub "github.com/routedeck/routedeck/backend/publish/kubernetes"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/targets"
	"github.com/routedeck/routedeck/backend/xds"
)

// consulKV writes published workspaces to Consul's KV store when the Consul
// target has KV publishing on.
type consulKV struct {
	targets *targets.Service
	store   *store.Store
	log     *slog.Logger
}

// published writes pub to Consul's KV when the target asks for it (the
// release service's Published hook). The version is already live on ADS
// by then, so a Consul failure does not undo the publish: it is logged and
// audited as publish.consul.failed, where an operator sees it next to the
// publish.
func (c consulKV) published(ctx context.Context, actor string, pub store.Published) {
	err := c.publish(ctx, pub)
	// A Consul cluster electing a leader refuses writes for a few
	// seconds; xDS replicas would stay behind until the next publish, so
	// the write is tried again meanwhile. A conflict or an invalid
	// workspace would fail the same way again.
	for pause := 250 * time.Millisecond; err != nil && pause <= 2*time.Second && retryable(err); pause *= 2 {
		select {
		case <-ctx.Done():
		case <-time.After(pause):
			err = c.publish(ctx, pub)
			continue
		}
		break
	}
	if err == nil {
		return
	}
	c.log.Error("publish to consul kv", "gateway", pub.Gateway, "version", pub.Version, "err", err)
	if aerr := c.store.Audit(ctx, store.AuditEntry{Actor: actor, Action: "publish.consul.failed", Target: pub.Gateway,
		Detail: fmt.Sprintf("version %d: %v", pub.Version, err)}); aerr != nil {
		c.log.Error("audit consul publish failure", "err", aerr)
	}
}

// retryable reports an error of Consul's availability, not of the publish.
func retryable(err error) bool {
	switch model.ErrorCode(err) {
	case model.ECONFLICT, model.EINVALID, model.ENOTFOUND:
		return false
	}
	return true
}

func (c consulKV) publish(ctx context.Context, pub store.Published) error {
	st, err := c.targets.Settings(ctx)
	if err != nil || !st.Consul.KVPublish {
		return err
	}
	client, err := c.targets.Consul(ctx)
	if err != nil {
		return err
	}
	kv := consulpub.New(client, consulpub.WithKeys(c.store.Keys()))
	if err := kv.PublishVersion(ctx, pub.Gateway, pub.Version, kvWorkspace(pub.Workspace)); err != nil {
		return err
	}
	c.log.Info("published to consul kv", "gateway", pub.Gateway, "version", pub.Version, "prefix", kv.Prefix())
	return nil
}

// kvWorkspace is what goes to Consul's KV: the workspace with private keys
// redacted. KV is readable by anyone with a read token for the prefix, and
// Envoys get their keys over SDS from routedeck, never from KV.
func kvWorkspace(ws model.Workspace) model.Workspace {
	ws.Secrets = slices.Clone(ws.Secrets)
	for i := range ws.Secrets {
		ws.Secrets[i] = *ws.Secrets[i].Redacted()
	}
	return ws
}

// pusher deploys gateways to Kubernetes and exports their routes to the
// Gateway API and to Consul config entries (the API's Push).
type pusher struct {
	store   *store.Store
	targets *targets.Service
	log     *slog.Logger
	// ca issues the deployed Envoys' ADS certificates, unless ADS runs in
	// plaintext.
	ca           *pki.Authority
	adsPlaintext bool
}

var _ api.Push = (*pusher)(nil)

// exportWorkspace is what gets exported: the gateway's latest published
// version, which is what its proxies run, or the draft when it was never
// published. from says which.
func (p *pusher) exportWorkspace(ctx context.Context, gateway string) (ws model.Workspace, from string, err error) {
	pub, err := p.store.GetPublished(ctx, gateway, 0)
	if err == nil {
		return pub.Workspace, fmt.Sprintf("published version %d", pub.Version), nil
	}
	if model.ErrorCode(err) != model.ENOTFOUND {
		return ws, "", err
	}
	ws, err = p.store.GatewayWorkspace(ctx, gateway)
	return ws, "draft", err
}

func (p *pusher) applier(ctx context.Context) (*kubepub.Applier, error) {
	cfg, err := p.targets.RESTConfig(ctx, "")
	if err != nil {
		return nil, err
	}
	a, err := kubepub.NewApplier(cfg)
	return a, targets.Unavailable("kubernetes target", err)
}

// DeployReply is the answer of POST /gateways/{name}/deploy.
type DeployReply struct {
	DryRun  bool              `json:"dryRun"`
	Applied []kubepub.Applied `json:"applied"`
	// YAML is the manifests that were applied.
	YAML string `json:"yaml"`
}

// Deploy applies the gateway's manifests with server-side apply.
func (p *pusher) Deploy(ctx context.Context, actor, gateway string, req api.DeployRequest) (any, error) {
	obj, err := p.store.Get(ctx, model.KindGateway, gateway)
	if err != nil {
		return nil, err
	}
	if req.ADS == "" {
		var p model.Problems
		p.Add("ads", "required: routedeck's ADS address as the Envoys reach it (HOST:PORT)")
		return nil, p.Err()
	}
	ns := req.Namespace
	if ns == "" {
		ns = p.targets.DefaultNamespace(ctx)
	}
	opts := kubepub.ManifestOptions{
		ADS: req.ADS, Namespace: ns, CreateNamespace: req.CreateNamespace, ServiceType: req.ServiceType,
		AWSNLB: req.AWSNLB, ExternalTrafficPolicy: req.ExternalTrafficPolicy, Replicas: req.Replicas, Image: req.Image,
		InsecurePlaintext: p.adsPlaintext,
	}
	if !p.adsPlaintext {
		// A fresh certificate on every deploy: applying the Secret
		// renews the running Envoys' one in place.
		is, err := p.ca.IssueGateway(gateway, 0)
		if err != nil {
			return nil, err
		}
		opts.Credentials = &xds.Credentials{Cert: is.CertPEM, Key: is.KeyPEM, CA: is.CAPEM}
	}
	objs, err := kubepub.Manifests(obj.(*model.Gateway), opts)
	if err != nil {
		return nil, err
	}
	// The reply shows what was applied, but not the proxies' private key.
	out, err := kubepub.YAML(kubepub.WithoutPrivateKeys(objs))
	if err != nil {
		return nil, err
	}
	a, err := p.applier(ctx)
	if err != nil {
		return nil, err
	}
	applied, err := a.Apply(ctx, objs, req.DryRun)
	if err != nil {
		return nil, targets.Unavailable("kubernetes target", err)
	}
	if !req.DryRun {
		detail := fmt.Sprintf("kubernetes namespace %s", ns)
		if opts.Credentials != nil {
			detail += ", with a new ADS client certificate"
		}
		if err := p.store.Audit(ctx, store.AuditEntry{Actor: actor, Action: "gateway.deploy", Target: gateway,
			Detail: detail}); err != nil {
			return nil, err
		}
	}
	return DeployReply{DryRun: req.DryRun, Applied: applied, YAML: string(out)}, nil
}

// GatewayAPIReply is the answer of the Gateway API export endpoints.
type GatewayAPIReply struct {
	From       string              `json:"from"`
	Routes     []kubepub.HTTPRoute `json:"routes"`
	GRPCRoutes []kubepub.GRPCRoute `json:"grpcRoutes,omitempty"`
	Report     []export.Issue      `json:"report"`
	YAML       string              `json:"yaml"`
	// Applied is set after an apply; CRDsInstalled says whether the
	// cluster serves HTTPRoutes at all (nothing is applied without them).
	Applied       []kubepub.Applied `json:"applied,omitempty"`
	CRDsInstalled *bool             `json:"crdsInstalled,omitempty"`
	DryRun        bool              `json:"dryRun,omitempty"`
}

// ExportGatewayAPI renders (and with apply, applies) the HTTPRoutes.
func (p *pusher) ExportGatewayAPI(ctx context.Context, actor, gateway string, apply bool, req api.ExportRequest) (any, error) {
	if _, err := p.store.Get(ctx, model.KindGateway, gateway); err != nil {
		return nil, err
	}
	ws, from, err := p.exportWorkspace(ctx, gateway)
	if err != nil {
		return nil, err
	}
	ns := req.Namespace
	if ns == "" {
		ns = p.targets.DefaultNamespace(ctx)
	}
	ex := kubepub.ExportGatewayAPI(ws, gateway, ns)
	out, err := ex.RoutesYAML()
	if err != nil {
		return nil, err
	}
	reply := GatewayAPIReply{From: from, Routes: ex.Routes, GRPCRoutes: ex.GRPCRoutes, Report: ex.Report, YAML: string(out), DryRun: req.DryRun}
	if !apply {
		return reply, nil
	}
	a, err := p.applier(ctx)
	if err != nil {
		return nil, err
	}
	ok, err := a.ServesGroupVersion(kubepub.GatewayAPIGroupVersion, kubepub.HTTPRouteKind)
	if err != nil {
		return nil, targets.Unavailable("kubernetes target", err)
	}
	reply.CRDsInstalled = &ok
	if !ok {
		reply.Report = append(reply.Report, export.Issue{Reason: "Gateway API CRDs not installed: the cluster does not serve " +
			kubepub.GatewayAPIGroupVersion + " HTTPRoute; install the Gateway API CRDs, then apply again", Skipped: true})
		return reply, nil
	}
	objs, err := ex.Objects()
	if err != nil {
		return nil, err
	}
	if reply.Applied, err = a.Apply(ctx, objs, req.DryRun); err != nil {
		return nil, targets.Unavailable("kubernetes target", err)
	}
	if !req.DryRun {
		if err := p.store.Audit(ctx, store.AuditEntry{Actor: actor, Action: "gateway.export.gateway-api", Target: gateway,
			Detail: fmt.Sprintf("%d HTTPRoutes in namespace %s from the %s", len(objs), ns, from)}); err != nil {
			return nil, err
		}
	}
	return reply, nil
}

// ConsulReply is the answer of the Consul export endpoints.
type ConsulReply struct {
	From    string                  `json:"from"`
	Entries []consulapi.ConfigEntry `json:"entries"`
	Report  []export.Issue          `json:"report"`
	// Applied is what the agent holds after an apply, read back.
	Applied []consulapi.ConfigEntry `json:"applied,omitempty"`
}

// ExportConsul renders (and with apply, writes) the config entries.
func (p *pusher) ExportConsul(ctx context.Context, actor, gateway string, apply bool) (any, error) {
	if _, err := p.store.Get(ctx, model.KindGateway, gateway); err != nil {
		return nil, err
	}
	ws, from, err := p.exportWorkspace(ctx, gateway)
	if err != nil {
		return nil, err
	}
	ex := consulpub.ExportEntries(ws, gateway)
	reply := ConsulReply{From: from, Entries: ex.Entries, Report: ex.Report}
	if !apply {
		return reply, nil
	}
	client, err := p.targets.Consul(ctx)
	if err != nil {
		return nil, targets.Unavailable("consul target", err)
	}
	if reply.Applied, err = consulpub.ApplyEntries(ctx, client, ex.Entries); err != nil {
		return nil, targets.Unavailable("consul target", err)
	}
	if err := p.store.Audit(ctx, store.AuditEntry{Actor: actor, Action: "gateway.export.consul", Target: gateway,
		Detail: fmt.Sprintf("%d config entries from the %s", len(ex.Entries), from)}); err != nil {
		return nil, err
	}
	return reply, nil
}

// ConsulKVReply is GET /targets/consul/kv: what a publish left in the KV.
// Prefix is the tree all gateways share; Items is the gateway's part of
// it: its Gateway document, routes, and the upstreams and secrets they use.
type ConsulKVReply struct {
	Prefix string     `json:"prefix"`
	Items  []KVObject `json:"items"`
}

// KVObject is one stored object with its KV modify index.
type KVObject struct {
	Kind        string       `json:"kind"`
	Name        string       `json:"name"`
	ModifyIndex uint64       `json:"modifyIndex"`
	Object      model.Object `json:"object"`
}

// ConsulKV reads the gateway's published workspace back from Consul, its
// secret values shown as fingerprints like every other answer.
func (p *pusher) ConsulKV(ctx context.Context, gateway string) (any, error) {
	client, err := p.targets.Consul(ctx)
	if err != nil {
		return nil, targets.Unavailable("consul target", err)
	}
	kv := consulpub.New(client, consulpub.WithKeys(p.store.Keys()))
	entries, err := kv.ReadGateway(ctx, gateway)
	if err != nil { // a gateway never published stays ENOTFOUND
		return nil, targets.Unavailable("consul target", err)
	}
	reply := ConsulKVReply{Prefix: kv.Prefix(), Items: []KVObject{}}
	for _, e := range entries {
		reply.Items = append(reply.Items, KVObject{Kind: e.Object.Kind(), Name: e.Object.ObjectMeta().Name, ModifyIndex: e.ModifyIndex, Object: model.Redact(e.Object, p.store.Keys())})
	}
	return reply, nil
}
