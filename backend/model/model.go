package model

import (
	"slices"
	"time"
)

// Kinds of documents in the workspace file format.
const (
	KindGateway  = "Gateway"
	KindUpstream = "Upstream"
	KindRoute    = "Route"
	KindSecret   = "Secret"
)

// Kinds lists every document kind, in the order they are applied (gateways
// and upstreams refer to secrets, routes to gateways and upstreams, so the
// referenced kinds go first).
var Kinds = []string{KindSecret, KindGateway, KindUpstream, KindRoute}

// Meta is what every stored object carries. Version is the optimistic
// concurrency token: a write must carry the version it read, and a stale one
// is refused with ECONFLICT.
type Meta struct {
	Name      string    `json:"name"`
	Version   int64     `json:"version,omitempty"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	UpdatedBy string    `json:"updatedBy,omitempty"`
}

// Gateway is one fleet of Envoys sharing a configuration. Its name is the
// Envoy node.cluster the proxies announce over ADS.
type Gateway struct {
	Meta
	Description string     `json:"description,omitempty"`
	Listeners   []Listener `json:"listeners"`
	// DefaultResponse answers requests no rule matches. Nil means Envoy's own
	// behaviour: 404 with an empty body.
	DefaultResponse *Respond `json:"defaultResponse,omitempty"`
	// AccessLog configures the request log; nil logs every request.
	AccessLog *AccessLog `json:"accessLog,omitempty"`
	// PublishGate refuses publishes that change too much of the traffic
	// the gateway served lately; nil publishes without replaying it.
	PublishGate *PublishGate `json:"publishGate,omitempty"`
}

// Listener protocols.
const (
	ProtocolHTTP  = "HTTP"
	ProtocolHTTPS = "HTTPS"
)

// Listener is one port the gateway accepts traffic on.
type Listener struct {
	Name     string       `json:"name"`
	Address  string       `json:"address,omitempty"` // default 0.0.0.0
	Port     int          `json:"port"`
	Protocol string       `json:"protocol"` // HTTP or HTTPS
	TLS      *ListenerTLS `json:"tls,omitempty"`
}

// ListenerTLS terminates TLS, choosing a certificate by SNI.
type ListenerTLS struct {
	Certificates []Certificate `json:"certificates"`
	MinVersion   string        `json:"minVersion,omitempty"` // "1.2" or "1.3"
}

// Certificate names a secret (delivered to Envoy over SDS) and the server
// names it serves. An empty Hosts list makes it the default certificate.
type Certificate struct {
	Secret string   `json:"secret"`
	Hosts  []string `json:"hosts,omitempty"`
}

// Upstream protocols.
const (
	UpstreamHTTP1 = "http1"
	UpstreamHTTP2 = "http2"
	UpstreamGRPC  = "grpc"
)

// Load balancer policies.
const (
	LBRoundRobin   = "round-robin"
	LBLeastRequest = "least-request"
	LBRandom       = "random"
	LBRingHash     = "ring-hash"
	LBMaglev       = "maglev"
)

// Upstream is a named set of endpoints routes forward to. Exactly one source
// (Static, DNS, Kubernetes, Consul) is set.
type Upstream struct {
	Meta
	Description      string            `json:"description,omitempty"`
	Static           *StaticSource     `json:"static,omitempty"`
	DNS              *DNSSource        `json:"dns,omitempty"`
	Kubernetes       *KubernetesSource `json:"kubernetes,omitempty"`
	Consul           *ConsulSource     `json:"consul,omitempty"`
	Protocol         string            `json:"protocol,omitempty"` // http1 (default), http2, grpc
	LoadBalancer     *LoadBalancer     `json:"loadBalancer,omitempty"`
	ConnectTimeout   Duration          `json:"connectTimeout,omitempty"`
	HealthCheck      *HealthCheck      `json:"healthCheck,omitempty"`
	OutlierDetection *OutlierDetection `json:"outlierDetection,omitempty"`
	CircuitBreaker   *CircuitBreaker   `json:"circuitBreaker,omitempty"`
	TLS              *UpstreamTLS      `json:"tls,omitempty"`
}

// Endpoint is one address of an upstream.
type Endpoint struct {
	Address string `json:"address"`
	Port    int    `json:"port"`
	Weight  int    `json:"weight,omitempty"` // default 1
}

// StaticSource lists endpoints by hand.
type StaticSource struct {
	Endpoints []Endpoint `json:"endpoints"`
}

// DNSSource resolves a name (Envoy STRICT_DNS).
type DNSSource struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

// KubernetesSource takes the ready endpoints of a Service's EndpointSlices.
type KubernetesSource struct {
	Namespace string `json:"namespace"`
	Service   string `json:"service"`
	Port      int    `json:"port"` // service port number
	Context   string `json:"context,omitempty"`
}

// ConsulSource takes the instances of a Consul service from the health API.
type ConsulSource struct {
	Service     string   `json:"service"`
	Tags        []string `json:"tags,omitempty"`
	Datacenter  string   `json:"datacenter,omitempty"`
	PassingOnly *bool    `json:"passingOnly,omitempty"` // default true
}

// LoadBalancer picks the policy; HashOn applies to ring-hash and maglev.
type LoadBalancer struct {
	Policy string  `json:"policy"`
	HashOn *HashOn `json:"hashOn,omitempty"`
}

// HashOn chooses the request property consistent hashing keys on.
type HashOn struct {
	Header   string `json:"header,omitempty"`
	Cookie   string `json:"cookie,omitempty"`
	SourceIP bool   `json:"sourceIP,omitempty"`
}

// HealthCheck is an active HTTP health check.
type HealthCheck struct {
	Path               string   `json:"path"`
	Interval           Duration `json:"interval,omitempty"` // default 10s
	Timeout            Duration `json:"timeout,omitempty"`  // default 1s
	HealthyThreshold   int      `json:"healthyThreshold,omitempty"`
	UnhealthyThreshold int      `json:"unhealthyThreshold,omitempty"`
	ExpectedStatuses   []int    `json:"expectedStatuses,omitempty"`
}

// OutlierDetection ejects endpoints that keep failing.
type OutlierDetection struct {
	Consecutive5xx     int      `json:"consecutive5xx,omitempty"`
	Interval           Duration `json:"interval,omitempty"`
	BaseEjectionTime   Duration `json:"baseEjectionTime,omitempty"`
	MaxEjectionPercent int      `json:"maxEjectionPercent,omitempty"`
}

// CircuitBreaker limits concurrency towards the upstream. RetryBudget caps
// concurrent retries as a share of active requests so retries cannot
// amplify an outage.
type CircuitBreaker struct {
	MaxConnections     int          `json:"maxConnections,omitempty"`
	MaxPendingRequests int          `json:"maxPendingRequests,omitempty"`
	MaxRequests        int          `json:"maxRequests,omitempty"`
	MaxRetries         int          `json:"maxRetries,omitempty"`
	RetryBudget        *RetryBudget `json:"retryBudget,omitempty"`
}

// RetryBudget maps to Envoy's CircuitBreakers.Thresholds.RetryBudget.
type RetryBudget struct {
	BudgetPercent       float64 `json:"budgetPercent"`
	MinRetryConcurrency int     `json:"minRetryConcurrency,omitempty"`
}

// UpstreamTLS originates TLS to the upstream.
type UpstreamTLS struct {
	SNI                string `json:"sni,omitempty"`
	CASecret           string `json:"caSecret,omitempty"`
	InsecureSkipVerify bool   `json:"insecureSkipVerify,omitempty"`
}

// Route is one rule: when the condition holds, do the action. Rules of a
// gateway are tried by priority (higher first), then name; the first that
// matches wins.
type Route struct {
	Meta
	Gateway string `json:"gateway"`
	// Listeners names the gateway listeners the rule answers on, as a
	// Gateway API parentRef's sectionName or port attaches a route to some
	// of a gateway's listeners; empty means every listener of the gateway.
	Listeners   []string  `json:"listeners,omitempty"`
	Priority    int       `json:"priority,omitempty"`
	Description string    `json:"description,omitempty"`
	Disabled    bool      `json:"disabled,omitempty"`
	When        Condition `json:"when,omitzero"`
	Then        Action    `json:"then"`
}

// Action is what a matched rule does. Exactly one of Forward, Redirect and
// Respond is set; the policies apply to Forward (and some to all three).
type Action struct {
	Forward  []Backend `json:"forward,omitempty"`
	Redirect *Redirect `json:"redirect,omitempty"`
	Respond  *Respond  `json:"respond,omitempty"`

	Rewrite     *Rewrite      `json:"rewrite,omitempty"`
	Headers     *HeaderPolicy `json:"headers,omitempty"`
	Timeout     Duration      `json:"timeout,omitempty"`
	IdleTimeout Duration      `json:"idleTimeout,omitempty"`
	Retries     *Retries      `json:"retries,omitempty"`
	RateLimit   *RateLimit    `json:"rateLimit,omitempty"`
	Auth        *Auth         `json:"auth,omitempty"`
	Access      *Access       `json:"access,omitempty"`
	CORS        *CORS         `json:"cors,omitempty"`
	Websocket   bool          `json:"websocket,omitempty"`
	Mirror      *Mirror       `json:"mirror,omitempty"`
	Fault       *Fault        `json:"fault,omitempty"`
}

// Backend is one weighted target of a forward.
type Backend struct {
	Upstream string        `json:"upstream"`
	Weight   int           `json:"weight,omitempty"`  // default 1 when it is the only backend
	Headers  *HeaderPolicy `json:"headers,omitempty"` // applied only when this backend is picked
}

// Redirect answers with a 3xx. Unset parts keep the request's value.
type Redirect struct {
	Scheme     string `json:"scheme,omitempty"` // http or https
	Host       string `json:"host,omitempty"`
	Port       int    `json:"port,omitempty"`
	Path       string `json:"path,omitempty"`       // replaces the whole path
	PathPrefix string `json:"pathPrefix,omitempty"` // replaces the matched prefix
	StripQuery bool   `json:"stripQuery,omitempty"`
	Status     int    `json:"status,omitempty"` // 301 (default), 302, 303, 307, 308
}

// Respond answers directly, without an upstream (a mock response).
type Respond struct {
	Status  int               `json:"status"`
	Body    string            `json:"body,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

// Rewrite changes the request before it is forwarded. At most one of
// PathPrefix, PathRegex and PathTemplate; at most one of Host and
// HostFromHeader.
type Rewrite struct {
	PathPrefix     string    `json:"pathPrefix,omitempty"` // replaces the prefix the rule matched
	PathRegex      *RegexSub `json:"pathRegex,omitempty"`
	PathTemplate   string    `json:"pathTemplate,omitempty"` // with a path.template condition: "/v2/{id}"
	Host           string    `json:"host,omitempty"`
	HostFromHeader string    `json:"hostFromHeader,omitempty"`
	AutoHost       bool      `json:"autoHost,omitempty"`
}

// RegexSub replaces every match of Pattern (RE2) with Substitution (\1 refs).
type RegexSub struct {
	Pattern      string `json:"pattern"`
	Substitution string `json:"substitution"`
}

// HeaderPolicy mutates request and response headers.
type HeaderPolicy struct {
	Request  *HeaderMutation `json:"request,omitempty"`
	Response *HeaderMutation `json:"response,omitempty"`
}

// HeaderMutation: Remove runs first, then Set (overwrite or add), then Add
// (append to existing values). Envoy's evaluation order, kept on purpose.
type HeaderMutation struct {
	Set         map[string]string `json:"set,omitempty"`
	Add         map[string]string `json:"add,omitempty"`
	AddIfAbsent map[string]string `json:"addIfAbsent,omitempty"`
	Remove      []string          `json:"remove,omitempty"`
}

// Retry conditions.
const (
	Retry5xx             = "5xx"
	RetryGatewayError    = "gateway-error"
	RetryReset           = "reset"
	RetryConnectFailure  = "connect-failure"
	RetryRefusedStream   = "refused-stream"
	RetryRetriable4xx    = "retriable-4xx"
	RetryStatusCodes     = "retriable-status-codes"
	RetryGRPCUnavailable = "unavailable"
	RetryGRPCCancelled   = "cancelled"
	RetryGRPCDeadline    = "deadline-exceeded"
	RetryGRPCExhausted   = "resource-exhausted"
)

// Retries retries failed attempts. Attempts counts retries, not tries.
type Retries struct {
	Attempts      int      `json:"attempts"`
	On            []string `json:"on,omitempty"`
	StatusCodes   []int    `json:"statusCodes,omitempty"` // with retriable-status-codes
	PerTryTimeout Duration `json:"perTryTimeout,omitempty"`
	BackoffBase   Duration `json:"backoffBase,omitempty"` // default 25ms
	BackoffMax    Duration `json:"backoffMax,omitempty"`  // default 10 x base
}

// RateLimit is a local token bucket per Envoy instance.
type RateLimit struct {
	Requests int      `json:"requests"`
	Per      Duration `json:"per"`
	Burst    int      `json:"burst,omitempty"`  // default = Requests
	Status   int      `json:"status,omitempty"` // default 429
}

// Auth requires the request to be authenticated. Exactly one method is set.
type Auth struct {
	JWT    *JWTAuth    `json:"jwt,omitempty"`
	APIKey *APIKeyAuth `json:"apiKey,omitempty"`
	Basic  *BasicAuth  `json:"basic,omitempty"`
}

// JWTAuth validates bearer tokens. One of JWKSURI and JWKS (inline) is set.
type JWTAuth struct {
	Issuer               string   `json:"issuer"`
	Audiences            []string `json:"audiences,omitempty"`
	JWKSURI              string   `json:"jwksUri,omitempty"`
	JWKS                 string   `json:"jwks,omitempty"`
	JWKSUpstream         string   `json:"jwksUpstream,omitempty"` // upstream serving JWKSURI
	ForwardPayloadHeader string   `json:"forwardPayloadHeader,omitempty"`
}

// APIKeyAuth accepts requests carrying one of the keys in a header.
type APIKeyAuth struct {
	Header string   `json:"header"`
	Keys   []string `json:"keys"`
}

// BasicAuth accepts user:password pairs; passwords are stored as htpasswd
// SHA hashes ("{SHA}...") or given in clear and hashed on translation.
type BasicAuth struct {
	Users map[string]string `json:"users"`
}

// Access allows or denies by source IP. With Allow set, only those CIDRs pass;
// Deny is checked first.
type Access struct {
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
}

// CORS answers preflights and adds CORS response headers.
type CORS struct {
	AllowOrigins     []string `json:"allowOrigins"` // exact, or "*"; "regex:..." for RE2
	AllowMethods     []string `json:"allowMethods,omitempty"`
	AllowHeaders     []string `json:"allowHeaders,omitempty"`
	ExposeHeaders    []string `json:"exposeHeaders,omitempty"`
	MaxAge           Duration `json:"maxAge,omitempty"`
	AllowCredentials bool     `json:"allowCredentials,omitempty"`
}

// Mirror sends a copy of a share of requests to another upstream and ignores
// its answers.
type Mirror struct {
	Upstream string  `json:"upstream"`
	Percent  float64 `json:"percent,omitempty"` // default 100
}

// Fault injects delays and aborts, for chaos testing.
type Fault struct {
	Delay *FaultDelay `json:"delay,omitempty"`
	Abort *FaultAbort `json:"abort,omitempty"`
}

// FaultDelay delays Percent of requests by Duration.
type FaultDelay struct {
	Duration Duration `json:"duration"`
	Percent  float64  `json:"percent"`
}

// FaultAbort answers Percent of requests with Status.
type FaultAbort struct {
	Status  int     `json:"status"`
	Percent float64 `json:"percent"`
}

// Workspace is a complete set of objects: what a gateway's draft or a
// published version holds, what a file applies, what the translator reads.
type Workspace struct {
	Secrets   []Secret   `json:"secrets,omitempty"`
	Gateways  []Gateway  `json:"gateways,omitempty"`
	Upstreams []Upstream `json:"upstreams,omitempty"`
	Routes    []Route    `json:"routes,omitempty"`
}

// HasListener reports whether the gateway has a listener of that name.
func (g *Gateway) HasListener(name string) bool {
	for i := range g.Listeners {
		if g.Listeners[i].Name == name {
			return true
		}
	}
	return false
}

// OnListener reports whether the rule answers on the named listener of its
// gateway.
func (r *Route) OnListener(listener string) bool {
	return len(r.Listeners) == 0 || slices.Contains(r.Listeners, listener)
}
