package convert

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/routedeck/routedeck/backend/model"
)

// target resolves a service to a routedeck upstream, once.
func (k *kongImporter) target(svc *kongServiceIn) kongTargetInfo {
	if svc.target != nil {
		return *svc.target
	}
	t := k.resolveService(svc)
	svc.target = &t
	return t
}

func (k *kongImporter) resolveService(svc *kongServiceIn) kongTargetInfo {
	s, obj := svc.s, svc.obj
	protocol, host, port, path := s.Protocol, s.Host, s.Port, s.Path
	if s.URL != "" {
		u, err := url.Parse(s.URL)
		if err != nil || u.Host == "" {
			k.issue(obj, "url", "cannot read %q: service not imported", s.URL)
			return kongTargetInfo{}
		}
		protocol, host, path = u.Scheme, u.Hostname(), u.Path
		port = 0
		if p := u.Port(); p != "" {
			port, _ = strconv.Atoi(p)
		}
	}
	if protocol == "" {
		protocol = "http"
	}
	if port == 0 {
		// A url without a port takes the scheme's; the port field's own
		// default is 80 whatever the protocol.
		port = kongDefaultPort
		if s.URL != "" && isTLSProtocol(protocol) {
			port = 443
		}
	}
	t := kongTargetInfo{basePath: path}
	var up model.Upstream
	switch protocol {
	case "http", "https":
	case "grpc", "grpcs":
		t.grpc = true
		up.Protocol = model.UpstreamGRPC
	case "ws", "wss":
		t.websocket = true
	default:
		k.issue(obj, "protocol", "%s services are not imported: routedeck forwards HTTP only; its routes are skipped", protocol)
		return kongTargetInfo{}
	}
	if host == "" {
		k.issue(obj, "host", "required: service not imported")
		return kongTargetInfo{}
	}
	if t.grpc && path != "" {
		k.issue(obj, "path", "a gRPC service has no path: ignored")
		t.basePath = ""
	}
	if isTLSProtocol(protocol) {
		up.TLS = &model.UpstreamTLS{}
		if net.ParseIP(host) == nil {
			up.TLS.SNI = host
		}
		if s.TLSVerify == nil || !*s.TLSVerify {
			k.issue(obj, "tls_verify", "Kong does not verify the upstream certificate unless tls_verify is on; routedeck's upstream TLS does (give it tls.caSecret, or set tls.insecureSkipVerify)")
		}
	}
	if len(s.CACertificates) > 0 {
		k.issue(obj, "ca_certificates", "not imported: add the CA as a Secret and set the upstream's tls.caSecret")
	}
	if s.TLSVerifyDepth != nil {
		k.issue(obj, "tls_verify_depth", "not imported")
	}
	if len(s.ClientCertificate) > 0 && string(s.ClientCertificate) != "null" {
		k.issue(obj, "client_certificate", "upstream client certificates are not imported")
	}
	connect := kongMs(s.ConnectTimeout, kongDefaultTimeoutMs)
	up.ConnectTimeout = connect
	// Kong's read and write timeouts bound the gap between two reads or
	// writes; Envoy's route timeout bounds the whole response. The read
	// timeout is the nearest total.
	t.timeout = kongMs(s.ReadTimeout, kongDefaultTimeoutMs)
	if s.ReadTimeout != nil || s.WriteTimeout != nil {
		field := "read_timeout"
		if s.ReadTimeout == nil {
			field = "write_timeout"
		}
		k.issue(obj, field, "Kong times out between two reads or writes; imported as a total timeout of %s for the response", t.timeout)
	}
	retries := kongDefaultRetries
	if s.Retries != nil {
		retries = *s.Retries
	}
	if retries > 0 {
		t.retries = &model.Retries{Attempts: retries, On: []string{model.RetryConnectFailure, model.RetryReset}}
	}

	if ku, ok := k.upstreams[host]; ok {
		name := k.kongUpstream(ku, up, obj, &t)
		if name == "" {
			return kongTargetInfo{}
		}
		t.upstream = name
		t.ok = true
		return t
	}
	if ip := net.ParseIP(host); ip != nil {
		up.Static = &model.StaticSource{Endpoints: []model.Endpoint{{Address: host, Port: port}}}
	} else {
		up.DNS = &model.DNSSource{Host: host, Port: port}
	}
	t.host = hostHeader(host, port, protocol)
	up.Name = k.upstreamName(svc.name, up)
	t.upstream = up.Name
	t.ok = true
	return t
}

// hostHeader is host, with ":port" unless port is the scheme's default.
func hostHeader(host string, port int, protocol string) string {
	def := 80
	if isTLSProtocol(protocol) {
		def = 443
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == def {
		return host
	}
	return host + ":" + strconv.Itoa(port)
}

func isTLSProtocol(p string) bool { return p == "https" || p == "grpcs" || p == "wss" }

func kongMs(v *int, def int) model.Duration {
	ms := def
	if v != nil {
		ms = *v
	}
	return model.Duration(time.Duration(ms) * time.Millisecond)
}

// upstreamName registers up under name (or name-2, ... when another
// upstream with different settings took it) and returns the name used.
func (k *kongImporter) upstreamName(name string, up model.Upstream) string {
	for i := 1; ; i++ {
		n := name
		if i > 1 {
			n = Name(fmt.Sprintf("%s-%d", name, i))
		}
		up.Name = n
		sig, _ := json.Marshal(up)
		prev, taken := k.upUsed[n]
		if !taken {
			k.upUsed[n] = string(sig)
			k.builder.upstreams[n] = up
			return n
		}
		if prev == string(sig) {
			return n
		}
	}
}

// kongUpstream turns a Kong upstream and its targets into a routedeck
// upstream with static endpoints; base carries the service's protocol,
// TLS and connect timeout.
func (k *kongImporter) kongUpstream(ku kongUpstream, base model.Upstream, svcObj string, t *kongTargetInfo) string {
	obj := k.upObj[ku.Name]
	up := base
	var eps []model.Endpoint
	for i, tg := range ku.Targets {
		field := fmt.Sprintf("targets[%d]", i)
		w := kongTargetWeight
		if tg.Weight != nil {
			w = *tg.Weight
		}
		if w == 0 {
			k.issue(obj, field, "weight 0 (disabled): %s left out", tg.Target)
			continue
		}
		host, port := tg.Target, kongTargetPort
		if h, p, ok := splitHostPort(tg.Target); ok {
			host = h
			port, _ = strconv.Atoi(p)
		}
		host = strings.Trim(host, "[]")
		if msg := hostProblem(host); msg != "" {
			k.issue(obj, field, "target %q: %s: left out", tg.Target, msg)
			continue
		}
		eps = append(eps, model.Endpoint{Address: host, Port: port, Weight: w})
	}
	if len(eps) == 0 {
		k.issue(obj, "targets", "no usable target: the services using it are not imported")
		return ""
	}
	up.Static = &model.StaticSource{Endpoints: eps}
	switch ku.Algorithm {
	case "", "round-robin":
	case "least-connections":
		up.LoadBalancer = &model.LoadBalancer{Policy: model.LBLeastRequest}
	case "consistent-hashing":
		hash := &model.HashOn{}
		switch ku.HashOn {
		case "header":
			hash.Header = ku.HashOnHeader
		case "cookie":
			hash.Cookie = ku.HashOnCookie
		case "ip":
			hash.SourceIP = true
		default:
			hash = nil
			k.issue(obj, "hash_on", "hashing on %q is not imported: round-robin is used", ku.HashOn)
		}
		if hash != nil {
			up.LoadBalancer = &model.LoadBalancer{Policy: model.LBRingHash, HashOn: hash}
		}
		if ku.HashFallback != "" && ku.HashFallback != "none" {
			k.issue(obj, "hash_fallback", "not imported: requests without the hash key are spread at random by the ring")
		}
	default:
		k.issue(obj, "algorithm", "%s is not imported: round-robin is used", ku.Algorithm)
	}
	if hc := ku.Healthchecks; hc != nil {
		if a := hc.Active; a != nil && (a.Healthy.Interval > 0 || a.Unhealthy.Interval > 0) {
			if a.Type != "" && a.Type != "http" {
				k.issue(obj, "healthchecks.active.type", "%s health checks are not imported", a.Type)
			} else {
				interval := max(a.Healthy.Interval, a.Unhealthy.Interval)
				if a.Healthy.Interval != a.Unhealthy.Interval && a.Healthy.Interval > 0 && a.Unhealthy.Interval > 0 {
					k.issue(obj, "healthchecks.active", "one interval for healthy and unhealthy targets: %gs is used", interval)
				}
				path := a.HTTPPath
				if path == "" {
					path = "/"
				}
				up.HealthCheck = &model.HealthCheck{Path: path, Interval: seconds(interval), Timeout: seconds(a.Timeout),
					HealthyThreshold: a.Healthy.Successes, UnhealthyThreshold: a.Unhealthy.HTTPFailures, ExpectedStatuses: a.Healthy.HTTPStatuses}
			}
		}
		if p := hc.Passive; p != nil && (p.Unhealthy.HTTPFailures > 0 || p.Unhealthy.TCPFailures > 0 || p.Unhealthy.Timeouts > 0) {
			if p.Unhealthy.HTTPFailures > 0 {
				up.OutlierDetection = &model.OutlierDetection{Consecutive5xx: p.Unhealthy.HTTPFailures}
			}
			k.issue(obj, "healthchecks.passive", "imported as outlier detection on consecutive 5xx; Kong's statuses, TCP failure and timeout counts are not")
		}
	}
	if len(ku.ClientCert) > 0 && string(ku.ClientCert) != "null" {
		k.issue(obj, "client_certificate", "upstream client certificates are not imported")
	}
	if up.TLS != nil {
		// Kong sends the Host it proxies with as the server name; an
		// upstream's own name is no DNS name.
		up.TLS = &model.UpstreamTLS{SNI: ku.HostHeader}
	}
	if ku.HostHeader != "" {
		t.host = ku.HostHeader
	} else {
		t.autoHost = true
		k.issue(svcObj, "host", "Kong sends the picked target's address as Host (unless preserve_host); imported as auto host rewrite, which Envoy applies only to endpoints with host names, or set host_header")
	}
	return k.upstreamName(Name(ku.Name), up)
}

func hostProblem(h string) string {
	if net.ParseIP(h) != nil {
		return ""
	}
	if h == "" || strings.ContainsAny(h, "*:/ ") {
		return "not an address"
	}
	return ""
}

func seconds(s float64) model.Duration { return model.Duration(s * float64(time.Second)) }
