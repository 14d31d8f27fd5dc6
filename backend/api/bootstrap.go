package api

import (
	"fmt"
	"net/http"
	"path"
	"strconv"
	"unicode"

	"github.com/go-chi/chi/v5"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/xds"
)

// BootstrapOptions are what a proxy's bootstrap is made of besides its
// gateway: the field names are the query parameters of
// GET /gateways/{name}/bootstrap.
type BootstrapOptions struct {
	Gateway string
	// Node is the proxy's node id; "" takes the gateway's name.
	Node string
	// ADS is the address the proxy dials (HOST:PORT).
	ADS string
	// ADSAlternates are further addresses of the same ADS (xDS
	// replicas): the bootstrap's ADS cluster gets every one as a host
	// (the query repeats "ads").
	ADSAlternates []string
	AdminPort     int
	// Plaintext leaves TLS out (a server that serves ADS in plaintext).
	Plaintext bool
	// CertDir and ConfigDir are where the proxy finds its certificate
	// and the SDS files (xds.ADSTLS); "" takes the defaults.
	CertDir, ConfigDir string
	// Delta runs ADS as incremental xDS (a server that serves routes by
	// VHDS, see xds.UseDeltaADS).
	Delta bool
}

// BootstrapReply is the answer of GET /gateways/{name}/bootstrap.
type BootstrapReply struct {
	Gateway string `json:"gateway"`
	Node    string `json:"node"`
	ADS     string `json:"ads"`
	// ADSAlternates are the other ADS addresses of the bootstrap.
	ADSAlternates []string `json:"adsAlternates,omitempty"`
	Plaintext     bool     `json:"plaintext"`
	// Bootstrap is the Envoy bootstrap (YAML), Files the SDS files it
	// reads from ConfigDir (name -> content; none in plaintext).
	Bootstrap string            `json:"bootstrap"`
	Files     map[string]string `json:"files"`
	// CA is the trust bundle the proxy checks ADS with (its ca.crt).
	CA string `json:"ca,omitempty"`
}

// RenderBootstrap renders a proxy's bootstrap and its SDS files. The CLI
// renders with it offline, the API for a server's own address.
func RenderBootstrap(o BootstrapOptions) (BootstrapReply, error) {
	rep := BootstrapReply{Gateway: o.Gateway, Node: o.Node, ADS: o.ADS, ADSAlternates: o.ADSAlternates, Plaintext: o.Plaintext, Files: map[string]string{}}
	if rep.Node == "" {
		rep.Node = o.Gateway
	}
	var adsTLS *xds.ADSTLS
	if !o.Plaintext {
		adsTLS = &xds.ADSTLS{CertDir: o.CertDir, ConfigDir: o.ConfigDir}
	}
	b, err := xds.BootstrapHosts(o.Gateway, rep.Node, append([]string{o.ADS}, o.ADSAlternates...), o.AdminPort, adsTLS)
	if err != nil {
		return rep, err
	}
	if o.Delta {
		xds.UseDeltaADS(b)
	}
	y, err := xds.BootstrapYAML(b)
	if err != nil {
		return rep, err
	}
	rep.Bootstrap = string(y)
	if adsTLS != nil {
		files, err := xds.SDSFiles(*adsTLS)
		if err != nil {
			return rep, err
		}
		for name, data := range files {
			rep.Files[name] = string(data)
		}
	}
	return rep, nil
}

// maxBootstrapText bounds the text parameters of a bootstrap.
const maxBootstrapText = 1024

// bootstrap answers GET /gateways/{name}/bootstrap: the bootstrap of a
// proxy of the gateway that dials this server's ADS (or ?ads=), in its TLS
// mode, with the CA bundle to check it. 404 for an unknown gateway.
func (s *server) bootstrap(w http.ResponseWriter, r *http.Request) {
	if err := onlyQueryRepeating(r, []string{"ads"}, "node", "adminPort", "certDir", "configDir"); err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	o := BootstrapOptions{Gateway: chi.URLParam(r, "name"), Node: q.Get("node"), ADS: q.Get("ads"),
		CertDir: q.Get("certDir"), ConfigDir: q.Get("configDir"), AdminPort: 9901}
	var p model.Problems
	if ads := q["ads"]; len(ads) > 1 {
		o.ADSAlternates = ads[1:]
		if len(ads) > xds.MaxADSHosts {
			p.Add("ads", "%d addresses, at most %d", len(ads), xds.MaxADSHosts)
			o.ADSAlternates = nil
		}
	}
	if v := q.Get("adminPort"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 65535 {
			p.Add("adminPort", "must be a port number 0-65535, not %q", v)
		}
		o.AdminPort = n
	}
	if o.Node != "" && !printable(o.Node) {
		p.Add("node", "must be at most %d printable characters without spaces", maxBootstrapText)
	}
	for _, d := range []struct{ field, v string }{{"certDir", o.CertDir}, {"configDir", o.ConfigDir}} {
		if d.v != "" && (!path.IsAbs(d.v) || !printable(d.v)) {
			p.Add(d.field, "must be an absolute path of at most %d printable characters without spaces", maxBootstrapText)
		}
	}
	for i, a := range append([]string{o.ADS}, o.ADSAlternates...) {
		if a != "" && !printable(a) || a == "" && i > 0 {
			p.Add(fmt.Sprintf("ads[%d]", i), "must be HOST:PORT")
		}
	}
	if err := p.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.Store.Get(r.Context(), model.KindGateway, o.Gateway); err != nil {
		s.writeError(w, r, err)
		return
	}
	var ca string
	if s.Info != nil {
		info, err := s.Info.ServerInfo(r.Context())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if o.ADS == "" && len(o.ADSAlternates) == 0 {
			o.ADS = info.ADS.Address
		}
		o.Plaintext, ca, o.Delta = info.ADS.Plaintext, info.ADS.CA, info.ADS.VHDS
	}
	if o.ADS == "" {
		s.writeError(w, r, &model.Error{Code: model.EINVALID, Message: "this server does not know its ADS address",
			Fields: []model.FieldError{{Field: "ads", Message: "required here: the address proxies reach ADS at (HOST:PORT)"}}})
		return
	}
	rep, err := RenderBootstrap(o)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rep.CA = ca
	writeJSON(w, http.StatusOK, rep)
}

// printable reports a short value without spaces or control characters.
func printable(s string) bool {
	if len(s) > maxBootstrapText {
		return false
	}
	for _, c := range s {
		if !unicode.IsPrint(c) || unicode.IsSpace(c) {
			return false
		}
	}
	return true
}
