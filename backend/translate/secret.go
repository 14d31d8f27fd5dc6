package translate

import (
	"fmt"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/routedeck/routedeck/backend/model"
)

// caSecretName is the SDS name of the validation context made from a
// secret's CA certificates. An Envoy Secret holds either a certificate or a
// validation context, so a routedeck secret with both becomes two SDS
// resources; the suffix cannot clash with a secret name, which has no '/'.
func caSecretName(secret string) string { return secret + "/ca" }

// buildSecrets makes the SDS resources the gateway's listeners and the
// upstreams' TLS settings name, sorted by name. A reference to a secret
// that is missing, or lacks the part it is used for, is a problem on the
// referring field: Envoy would keep the listener warming (or the cluster
// unable to connect) forever.
func buildSecrets(ws model.Workspace, gw *model.Gateway, gwIndex int, problems *model.Problems) []*tlsv3.Secret {
	byName := make(map[string]*model.Secret, len(ws.Secrets))
	for i := range ws.Secrets {
		byName[ws.Secrets[i].Name] = &ws.Secrets[i]
	}
	out := map[string]*tlsv3.Secret{}
	gwPath, gwName := model.Index("gateways", gwIndex), fmt.Sprintf("gateway %q", gw.Name)
	for j, l := range gw.Listeners {
		if l.TLS == nil {
			continue
		}
		for k, c := range l.TLS.Certificates {
			path := gwPath + "." + model.Index("listeners", j) + "." + model.Index("tls.certificates", k) + ".secret"
			s := byName[c.Secret]
			switch {
			case c.Secret == "" || out[c.Secret] != nil:
				continue // reported by the listener, or already built
			case s == nil:
				problems.Add(path, "%s: unknown secret %q", gwName, c.Secret)
				continue
			case s.TLS == nil || s.TLS.PrivateKey == "" || s.TLS.PrivateKey == model.RedactedPrivateKey:
				problems.Add(path, "%s: secret %q has no tls certificate and key", gwName, c.Secret)
				continue
			}
			out[c.Secret] = &tlsv3.Secret{Name: c.Secret, Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
				CertificateChain: inline(s.TLS.Certificate),
				PrivateKey:       inline(s.TLS.PrivateKey),
			}}}
		}
	}
	for i := range ws.Upstreams {
		u := &ws.Upstreams[i]
		if u.TLS == nil || u.TLS.CASecret == "" || u.TLS.InsecureSkipVerify {
			continue
		}
		name := caSecretName(u.TLS.CASecret)
		if out[name] != nil {
			continue
		}
		path := model.Index("upstreams", i) + ".tls.caSecret"
		s := byName[u.TLS.CASecret]
		switch {
		case s == nil:
			problems.Add(path, "upstream %q: unknown secret %q", u.Name, u.TLS.CASecret)
			continue
		case strings.TrimSpace(s.CA) == "":
			problems.Add(path, "upstream %q: secret %q has no ca certificates", u.Name, u.TLS.CASecret)
			continue
		}
		out[name] = &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			TrustedCa: inline(s.CA),
		}}}
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	slices.Sort(names)
	list := make([]*tlsv3.Secret, len(names))
	for i, n := range names {
		list[i] = out[n]
		if err := list[i].Validate(); err != nil {
			problems.Add("secrets["+n+"]", "envoy secret: %v", err)
		}
	}
	return list
}

func inline(s string) *corev3.DataSource {
	return &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: s}}
}
