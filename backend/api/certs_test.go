package api

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/pki"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/internal/pkitest"
)

// auditedCA is the app's certificate service in miniature: the CA, with
// every issue and rotation in the audit log.
type auditedCA struct {
	ca    *pki.Authority
	store *store.Store
}

func (c auditedCA) IssueGateway(ctx context.Context, actor, gateway string, lifetime time.Duration) (*pki.Issued, error) {
	is, err := c.ca.IssueGateway(gateway, lifetime)
	if err != nil {
		return nil, err
	}
	return is, c.store.Audit(ctx, store.AuditEntry{Actor: actor, Action: "certs.issue", Target: "gateway/" + gateway})
}

func (c auditedCA) RotateCA(ctx context.Context, actor string, overlap time.Duration) (pki.CAInfo, error) {
	info, err := c.ca.RotateCA(overlap)
	if err != nil {
		return info, err
	}
	return info, c.store.Audit(ctx, store.AuditEntry{Actor: actor, Action: "certs.rotate-ca", Target: "ca/" + info.Serial})
}

func (c auditedCA) CAs(context.Context) ([]pki.CAInfo, error) { return c.ca.CAs() }

func TestCertsAPI(t *testing.T) {
	ca, err := pki.Open(t.TempDir(), pkitest.Sealer{}, pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var st *store.Store
	a := newTestAPI(t, func(d *Deps) { st = d.Store; d.Certs = auditedCA{ca: ca, store: d.Store} })

	a.do(t, "editor", "POST", "/api/v1/certs/gateways/public", map[string]any{}).must(t, http.StatusForbidden)
	a.do(t, "admin", "POST", "/api/v1/certs/gateways/Not_A_Name", map[string]any{}).must(t, http.StatusBadRequest)
	a.do(t, "admin", "POST", "/api/v1/certs/gateways/public", map[string]any{"days": -1}).must(t, http.StatusBadRequest)

	r := a.do(t, "admin", "POST", "/api/v1/certs/gateways/public", map[string]any{"days": 7}).must(t, http.StatusCreated)
	var rep IssueReply
	if err := json.Unmarshal(r.body, &rep); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(rep.Cert))
	if block == nil {
		t.Fatalf("tls.crt is not PEM: %s", r.body)
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.URIs[0].String() != "spiffe://routedeck/gateway/public" || rep.Identity != leaf.URIs[0].String() ||
		leaf.NotAfter.Sub(time.Now()) > 7*24*time.Hour || rep.Key == "" || rep.CA == "" {
		t.Errorf("issued %v until %s, reply %+v", leaf.URIs, leaf.NotAfter, rep.Identity)
	}

	a.do(t, "admin", "POST", "/api/v1/certs/rotate-ca", nil).must(t, http.StatusCreated)
	r = a.do(t, "admin", "GET", "/api/v1/certs/cas", nil).must(t, http.StatusOK)
	var cas struct {
		Items []pki.CAInfo `json:"items"`
	}
	if err := json.Unmarshal(r.body, &cas); err != nil || len(cas.Items) != 2 || !cas.Items[1].Active {
		t.Errorf("CAs after a rotation: %s (%v)", r.body, err)
	}

	entries, err := st.ListAudit(t.Context(), 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]string{}
	for _, e := range entries {
		actions[e.Action] = e.Actor
	}
	if actions["certs.issue"] == "" || actions["certs.rotate-ca"] == "" {
		t.Errorf("audit log %+v lacks the issue or the rotation", entries)
	}
}
