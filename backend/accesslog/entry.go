package accesslog

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogdata "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"

	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/backend/xds"
)

// Entry is one request as its proxy reported it. The JSON shape is part
// of the HTTP API (GET /gateways/{name}/logs).
type Entry struct {
	ID int64 `json:"id"`
	// Time is when the request started, by the proxy's clock (by the
	// server's when the proxy's is more than maxClockSkew off).
	Time    time.Time `json:"time"`
	Gateway string    `json:"gateway"`
	Node    string    `json:"node"`
	// Version is the configuration version the proxy ran (see
	// xds.AccessLogBatch.Version).
	Version string `json:"version"`
	// Route is Envoy's route name; Rule the rule it belongs to, "" when
	// no rule matched (or the gateway's default response answered).
	Route           string            `json:"route"`
	Rule            string            `json:"rule"`
	Method          string            `json:"method"`
	Scheme          string            `json:"scheme,omitempty"`
	Host            string            `json:"host"`
	Path            string            `json:"path"`
	OriginalPath    string            `json:"originalPath,omitempty"`
	Status          int               `json:"status"`
	DurationMs      float64           `json:"durationMs"`
	ResponseFlags   string            `json:"responseFlags,omitempty"`
	ResponseDetails string            `json:"responseDetails,omitempty"`
	UpstreamCluster string            `json:"upstreamCluster,omitempty"`
	UpstreamHost    string            `json:"upstreamHost,omitempty"`
	Client          string            `json:"client,omitempty"`
	UserAgent       string            `json:"userAgent,omitempty"`
	RequestID       string            `json:"requestId,omitempty"`
	BytesReceived   uint64            `json:"bytesReceived"`
	BytesSent       uint64            `json:"bytesSent"`
	Headers         map[string]string `json:"headers,omitempty"`

	duration time.Duration
}

// Bounds on what one entry keeps: a proxy reports whatever a client sent.
const (
	maxShort      = 256  // method, host, names, addresses, flags
	maxLong       = 2048 // path, user agent, details
	maxHeaderVal  = 1024 // one kept header value
	maxKeptHeader = 32   // kept headers per entry (model.MaxAccessLogHeaders)
	maxClockSkew  = time.Hour
)

// fromProto converts what a proxy sent into an Entry, clipping every
// string to its bound.
func fromProto(b xds.AccessLogBatch, pe *accesslogdata.HTTPAccessLogEntry) Entry {
	cp, req, resp := pe.GetCommonProperties(), pe.GetRequest(), pe.GetResponse()
	e := Entry{
		Gateway: b.Gateway, Node: clip(b.Node, maxShort), Version: clip(b.Version, maxShort),
		Route:           clip(cp.GetRouteName(), maxShort),
		Method:          clip(methodName(req.GetRequestMethod()), maxShort),
		Scheme:          clip(req.GetScheme(), maxShort),
		Host:            clip(strings.ToLower(req.GetAuthority()), maxShort),
		Path:            clip(req.GetPath(), maxLong),
		OriginalPath:    clip(req.GetOriginalPath(), maxLong),
		Status:          int(resp.GetResponseCode().GetValue()),
		ResponseFlags:   clip(flagCodes(cp.GetResponseFlags()), maxShort),
		ResponseDetails: clip(resp.GetResponseCodeDetails(), maxLong),
		UpstreamCluster: clip(cp.GetUpstreamCluster(), maxShort),
		UpstreamHost:    clip(address(cp.GetUpstreamRemoteAddress()), maxShort),
		Client:          clip(address(cp.GetDownstreamRemoteAddress()), maxShort),
		UserAgent:       clip(req.GetUserAgent(), maxLong),
		RequestID:       clip(req.GetRequestId(), maxShort),
		BytesReceived:   req.GetRequestBodyBytes(),
		BytesSent:       resp.GetResponseBodyBytes(),
	}
	if rule, ok := translate.RuleOfRoute(e.Route); ok {
		e.Rule = rule
	}
	e.Time = b.Received
	if st := cp.GetStartTime(); st != nil && st.IsValid() {
		if t := st.AsTime(); t.Sub(b.Received).Abs() <= maxClockSkew {
			e.Time = t
		}
	}
	for _, d := range []interface {
		IsValid() bool
		AsDuration() time.Duration
	}{cp.GetDuration(), cp.GetTimeToLastDownstreamTxByte(), cp.GetTimeToLastRxByte()} {
		if d != nil && d.IsValid() && d.AsDuration() >= 0 {
			e.duration = d.AsDuration()
			break
		}
	}
	e.DurationMs = float64(e.duration.Microseconds()) / 1000
	if hs := req.GetRequestHeaders(); len(hs) > 0 {
		e.Headers = make(map[string]string, min(len(hs), maxKeptHeader))
		for k, v := range hs {
			if len(e.Headers) == maxKeptHeader {
				break
			}
			e.Headers[clip(strings.ToLower(k), maxShort)] = clip(v, maxHeaderVal)
		}
	}
	return e
}

// headersJSON is how the kept headers are stored.
func (e *Entry) headersJSON() string {
	if len(e.Headers) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(e.Headers)
	return string(b)
}

// clip cuts s to at most n bytes at a rune boundary and replaces invalid
// UTF-8, so every stored string is valid JSON text.
func clip(s string, n int) string {
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func address(a *corev3.Address) string {
	sa := a.GetSocketAddress()
	if sa == nil {
		return a.GetPipe().GetPath()
	}
	return net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue())))
}

func methodName(m corev3.RequestMethod) string {
	if m == corev3.RequestMethod_METHOD_UNSPECIFIED {
		return ""
	}
	return m.String()
}

// flagCodes writes Envoy's response flags as its access log format
// prints them (%RESPONSE_FLAGS%): short codes joined by commas.
func flagCodes(f *accesslogdata.ResponseFlags) string {
	if f == nil {
		return ""
	}
	var out []string
	for _, c := range []struct {
		on   bool
		code string
	}{
		{f.GetFailedLocalHealthcheck(), "LH"}, {f.GetNoHealthyUpstream(), "UH"}, {f.GetUpstreamRequestTimeout(), "UT"},
		{f.GetLocalReset(), "LR"}, {f.GetUpstreamRemoteReset(), "UR"}, {f.GetUpstreamConnectionFailure(), "UF"},
		{f.GetUpstreamConnectionTermination(), "UC"}, {f.GetUpstreamOverflow(), "UO"}, {f.GetNoRouteFound(), "NR"},
		{f.GetDelayInjected(), "DI"}, {f.GetFaultInjected(), "FI"}, {f.GetRateLimited(), "RL"},
		{f.GetUnauthorizedDetails() != nil, "UAEX"}, {f.GetRateLimitServiceError(), "RLSE"},
		{f.GetDownstreamConnectionTermination(), "DC"}, {f.GetUpstreamRetryLimitExceeded(), "URX"},
		{f.GetStreamIdleTimeout(), "SI"}, {f.GetInvalidEnvoyRequestHeaders(), "IH"}, {f.GetDownstreamProtocolError(), "DPE"},
		{f.GetUpstreamMaxStreamDurationReached(), "UMSDR"}, {f.GetResponseFromCacheFilter(), "RFCF"},
		{f.GetNoFilterConfigFound(), "NFCF"}, {f.GetDurationTimeout(), "DT"}, {f.GetUpstreamProtocolError(), "UPE"},
		{f.GetNoClusterFound(), "NC"}, {f.GetOverloadManager(), "OM"}, {f.GetDnsResolutionFailure(), "DF"},
		{f.GetDownstreamRemoteReset(), "DRR"},
	} {
		if c.on {
			out = append(out, c.code)
		}
	}
	return strings.Join(out, ",")
}
