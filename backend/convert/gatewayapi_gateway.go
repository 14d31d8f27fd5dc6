package convert

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
)

// k8sGateway is the part of a gateway.networking.k8s.io/v1 Gateway the
// importer reads.
type k8sGateway struct {
	Spec struct {
		GatewayClassName string          `json:"gatewayClassName"`
		Listeners        []k8sListener   `json:"listeners"`
		Addresses        json.RawMessage `json:"addresses"`
		Infrastructure   json.RawMessage `json:"infrastructure"`
	} `json:"spec"`
}

type k8sListener struct {
	Name     string `json:"name"`
	Hostname string `json:"hostname"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
	TLS      *struct {
		Mode            string `json:"mode"`
		CertificateRefs []struct {
			Group     string `json:"group"`
			Kind      string `json:"kind"`
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"certificateRefs"`
		Options map[string]string `json:"options"`
	} `json:"tls"`
	AllowedRoutes *struct {
		Namespaces *struct {
			From string `json:"from"`
		} `json:"namespaces"`
		Kinds []struct {
			Group string `json:"group"`
			Kind  string `json:"kind"`
		} `json:"kinds"`
	} `json:"allowedRoutes"`
}

// parentRef is a route's reference to the Gateway (or one of its
// listeners) it attaches to.
type parentRef struct {
	Group       *string `json:"group"`
	Kind        *string `json:"kind"`
	Name        string  `json:"name"`
	Namespace   string  `json:"namespace"`
	SectionName string  `json:"sectionName"`
	Port        int     `json:"port"`
}

// source is the Gateway API Gateway whose listeners become the routedeck
// gateway, with what routes need to know to attach to them.
type source struct {
	namespace, name string
	listeners       []k8sListener
	// usable[i] is false for a listener that was not imported (TLS
	// passthrough, TCP, ...): routes cannot attach to it.
	usable []bool
	// imported[i] is the index of the routedeck listener that serves
	// listener i (several share one when they share a port).
	imported []int
}

// attachment is what a route's parentRefs leave of the gateway: the
// listeners it attaches to.
type attachment struct {
	listeners []k8sListener
	all       bool // every imported listener of the gateway
	// names are the routedeck listeners of listeners, when they are not
	// all of the gateway's: the routes' Listeners.
	names []string
	// mixedHosts says the attached listeners on different routedeck
	// listeners (ports) accept different hostnames.
	mixedHosts bool
}

// pickSource chooses the Gateway of the input that becomes gateway: the
// one of that name, or the only one. No Gateway at all means the routes
// are imported for every listener of an existing gateway.
func pickSource(gateways []document, gateway string) (*document, error) {
	var named []*document
	for i := range gateways {
		if gateways[i].Metadata.Name == gateway {
			named = append(named, &gateways[i])
		}
	}
	switch {
	case len(named) == 1:
		return named[0], nil
	case len(named) > 1:
		return nil, model.Errorf(model.EINVALID, "Gateways %s and %s are both named %s: import one at a time",
			named[0].ref(), named[1].ref(), gateway)
	case len(gateways) == 1:
		return &gateways[0], nil
	case len(gateways) == 0:
		return nil, nil
	}
	var refs []string
	for _, d := range gateways {
		refs = append(refs, d.ref())
	}
	return nil, model.Errorf(model.EINVALID, "the input holds %d Gateways (%s) and none is named %s: name the gateway after the one to import",
		len(gateways), strings.Join(refs, ", "), gateway)
}

// gatewayObject converts the source Gateway into the routedeck gateway:
// listeners on the same port and protocol (Gateway API tells them apart by
// hostname) become one listener whose certificates are chosen by SNI.
func (b *builder) gatewayObject(d document, gw k8sGateway) *source {
	obj, ns := d.ref(), d.namespace()
	src := &source{namespace: ns, name: d.Metadata.Name, listeners: gw.Spec.Listeners,
		usable: make([]bool, len(gw.Spec.Listeners)), imported: make([]int, len(gw.Spec.Listeners))}
	if d.APIVersion != "gateway.networking.k8s.io/v1" {
		b.issue(obj, "apiVersion", "read as gateway.networking.k8s.io/v1")
	}
	b.annotations(d, "annotations are not imported")
	if len(gw.Spec.Addresses) > 0 && string(gw.Spec.Addresses) != "null" {
		b.issue(obj, "spec.addresses", "addresses are not imported: the gateway listens on all addresses")
	}
	if len(gw.Spec.Infrastructure) > 0 && string(gw.Spec.Infrastructure) != "null" {
		b.issue(obj, "spec.infrastructure", "infrastructure is not imported")
	}
	out := model.Gateway{Meta: model.Meta{Name: b.gateway},
		Description: "imported from Gateway " + ns + "/" + d.Metadata.Name}
	byPort := map[string]int{} // "protocol/port" -> index in out.Listeners
	for i, l := range gw.Spec.Listeners {
		lp := fmt.Sprintf("spec.listeners[%d]", i)
		var proto string
		switch l.Protocol {
		case "HTTP":
			proto = model.ProtocolHTTP
		case "HTTPS":
			proto = model.ProtocolHTTPS
			if l.TLS != nil && l.TLS.Mode == "Passthrough" {
				b.issue(obj, lp+".tls.mode", "TLS passthrough is not supported: listener %s skipped", l.Name)
				continue
			}
		default:
			b.issue(obj, lp+".protocol", "protocol %s is not supported (HTTP and HTTPS are): listener %s skipped", l.Protocol, l.Name)
			continue
		}
		src.usable[i] = true
		if ar := l.AllowedRoutes; ar != nil && ar.Namespaces != nil && ar.Namespaces.From == "Selector" {
			b.issue(obj, lp+".allowedRoutes.namespaces", "namespace selectors are not evaluated: routes from every namespace attach to listener %s", l.Name)
		}
		key := proto + "/" + strconv.Itoa(l.Port)
		at, seen := byPort[key]
		if !seen {
			at = len(out.Listeners)
			byPort[key] = at
			out.Listeners = append(out.Listeners, model.Listener{Name: Name(l.Name), Port: l.Port, Protocol: proto})
		} else {
			// Several Gateway API listeners share the port: the routedeck
			// listener is named after the port, since no single one fits.
			out.Listeners[at].Name = Name(strings.ToLower(proto) + "-" + strconv.Itoa(l.Port))
		}
		src.imported[i] = at
		if proto != model.ProtocolHTTPS {
			continue
		}
		if l.TLS == nil || len(l.TLS.CertificateRefs) == 0 {
			b.issue(obj, lp+".tls", "an HTTPS listener needs a certificate: listener %s has none", l.Name)
			continue
		}
		if len(l.TLS.Options) > 0 {
			b.issue(obj, lp+".tls.options", "TLS options are implementation-specific: not imported")
		}
		ml := &out.Listeners[at]
		if ml.TLS == nil {
			ml.TLS = &model.ListenerTLS{}
		}
		for ci, c := range l.TLS.CertificateRefs {
			cp := fmt.Sprintf("%s.tls.certificateRefs[%d]", lp, ci)
			if (c.Group != "" && c.Group != "core") || (c.Kind != "" && c.Kind != "Secret") {
				b.issue(obj, cp, "only Secret certificates are imported (got %s %s): skipped", c.Kind, c.Name)
				continue
			}
			cns := ns
			if c.Namespace != "" && c.Namespace != ns {
				b.issue(obj, cp+".namespace", "cross-namespace reference to %s/%s: imported, but no ReferenceGrant is checked", c.Namespace, c.Name)
				cns = c.Namespace
			}
			name := Name(cns + "." + c.Name)
			cert := model.Certificate{Secret: name}
			if l.Hostname != "" {
				cert.Hosts = []string{l.Hostname}
			}
			ml.TLS.Certificates = append(ml.TLS.Certificates, cert)
			b.secretNeeded(obj, cp, name, cns, c.Name)
		}
	}
	if len(out.Listeners) == 0 {
		b.issue(obj, "spec.listeners", "no HTTP or HTTPS listener: the gateway is not imported")
		return src
	}
	b.gatewayOut = &out
	return src
}

// secretNeeded reports once per secret that its certificate must be added
// to routedeck: the import reads no Kubernetes Secret values.
func (b *builder) secretNeeded(obj, field, name, ns, k8sName string) {
	if b.secrets == nil {
		b.secrets = map[string]bool{}
	}
	if b.secrets[name] {
		return
	}
	b.secrets[name] = true
	b.issue(obj, field, "certificate Secret %s/%s is referenced as routedeck secret %s, which must exist (Secret values are not imported)", ns, k8sName, name)
}

// attach resolves a route's parentRefs against the source Gateway: which
// listeners the route attaches to. With no source, routes attach to every
// listener of the existing gateway. kind is the route's kind (HTTPRoute,
// GRPCRoute), checked against each listener's allowedRoutes.
func (b *builder) attach(obj, ns, kind string, refs []parentRef) attachment {
	src := b.source
	if src == nil {
		for i, p := range refs {
			if p.SectionName != "" || p.Port != 0 {
				b.issue(obj, fmt.Sprintf("spec.parentRefs[%d]", i),
					"the input has no Gateway: sectionName and port cannot be checked and the route applies to every listener of gateway %s", b.gateway)
			}
		}
		return attachment{all: true}
	}
	var got []k8sListener
	var names []string
	hostsOf := map[int][]string{} // routedeck listener -> hostnames attached there
	taken := make([]bool, len(src.listeners))
	for _, p := range refs {
		if (p.Group != nil && *p.Group != "gateway.networking.k8s.io") || (p.Kind != nil && *p.Kind != "Gateway") {
			continue
		}
		pns := p.Namespace
		if pns == "" {
			pns = ns
		}
		if p.Name != src.name || pns != src.namespace {
			continue
		}
		for i, l := range src.listeners {
			if taken[i] || !src.usable[i] ||
				(p.SectionName != "" && p.SectionName != l.Name) ||
				(p.Port != 0 && p.Port != l.Port) ||
				!allows(l, src.namespace, ns, kind) {
				continue
			}
			taken[i] = true
			got = append(got, l)
			if !slices.Contains(hostsOf[src.imported[i]], l.Hostname) {
				hostsOf[src.imported[i]] = append(hostsOf[src.imported[i]], l.Hostname)
			}
			if b.gatewayOut != nil {
				if n := b.gatewayOut.Listeners[src.imported[i]].Name; !slices.Contains(names, n) {
					names = append(names, n)
				}
			}
		}
	}
	usable := 0
	for _, u := range src.usable {
		if u {
			usable++
		}
	}
	at := attachment{listeners: got, all: len(got) == usable}
	var first []string
	for _, hs := range hostsOf {
		slices.Sort(hs)
		if first == nil {
			first = hs
		} else if !slices.Equal(first, hs) {
			at.mixedHosts = true
		}
	}
	if !at.all && b.gatewayOut != nil && len(names) < len(b.gatewayOut.Listeners) {
		// Listeners sharing a port share a routedeck listener: a route on
		// some of them is told apart by hostname, not by listener.
		slices.Sort(names)
		at.names = names
	}
	return at
}

// allows reports whether listener l admits a route of kind from namespace
// routeNS (the Gateway is in gwNS).
func allows(l k8sListener, gwNS, routeNS, kind string) bool {
	ar := l.AllowedRoutes
	if ar == nil {
		return gwNS == routeNS
	}
	if len(ar.Kinds) > 0 && !slices.ContainsFunc(ar.Kinds, func(k struct {
		Group string `json:"group"`
		Kind  string `json:"kind"`
	}) bool {
		return k.Kind == kind && (k.Group == "" || k.Group == "gateway.networking.k8s.io")
	}) {
		return false
	}
	from := "Same"
	if ar.Namespaces != nil && ar.Namespaces.From != "" {
		from = ar.Namespaces.From
	}
	switch from {
	case "All":
		return true
	case "Same":
		return gwNS == routeNS
	}
	// Selector: namespace labels are not part of the input; the route is
	// admitted (gatewayObject reports it).
	return true
}

// routeHosts intersects a route's hostnames with those of the listeners
// it attaches to, as the Gateway API specifies: a listener without a
// hostname takes the route's; a route without hostnames takes the
// listener's; otherwise a name must fit both and the narrower one is kept.
// any is true when the route matches every host.
func routeHosts(at attachment, hostnames []string) (hosts []string, any bool) {
	if at.all && len(at.listeners) == 0 {
		return hostnames, len(hostnames) == 0
	}
	add := func(h string) {
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	for _, l := range at.listeners {
		switch {
		case l.Hostname == "" && len(hostnames) == 0:
			return nil, true
		case l.Hostname == "":
			for _, h := range hostnames {
				add(h)
			}
		case len(hostnames) == 0:
			add(l.Hostname)
		default:
			for _, h := range hostnames {
				if hostWithin(h, l.Hostname) {
					add(h)
				} else if hostWithin(l.Hostname, h) {
					add(l.Hostname)
				}
			}
		}
	}
	return hosts, false
}

// hostWithin reports whether every name h matches is matched by pattern p
// (both may be "*." wildcards, which stand for one or more labels).
func hostWithin(h, p string) bool {
	h, p = strings.ToLower(h), strings.ToLower(p)
	if h == p {
		return true
	}
	suffix, ok := strings.CutPrefix(p, "*")
	if !ok {
		return false
	}
	return strings.HasSuffix(strings.TrimPrefix(h, "*"), suffix) && len(strings.TrimPrefix(h, "*")) > len(suffix)
}

// listenerPort is the one port of the attached listeners, or 0 when they
// listen on several (or the route attaches to every listener of an
// existing gateway).
func (at attachment) listenerPort() int {
	port := 0
	for _, l := range at.listeners {
		if port != 0 && port != l.Port {
			return 0
		}
		port = l.Port
	}
	return port
}
