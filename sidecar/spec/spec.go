// Package spec holds the plain runtime specs the data plane is built from:
// listeners, routes, clusters and endpoints as decoded from Envoy v3
// resources by sidecar/config. It has no protobuf or Envoy imports, so the
// data-plane packages (listener, l4, l7, route, cluster, balancer) that
// consume it never link them.
//
// Values of these types are immutable once handed to the sidecar.
package spec

import "time"

// Set is one complete, decoded configuration for a sidecar: what the data
// plane serves after it is applied. A Set is immutable once handed to the
// sidecar.
type Set struct {
	Listeners []Listener
	Clusters  []Cluster
	// Routes holds route configurations by name: those that came over RDS
	// (and inline ones are carried in their listener).
	Routes map[string]*RouteConfig
	// Endpoints holds load assignments by cluster name (EDS service name),
	// for clusters of type EDS.
	Endpoints map[string]*LoadAssignment
	// Dump is the active configuration as JSON in the shape of Envoy's
	// /config_dump, built by whoever decoded the resources. May be nil.
	Dump []byte
	// Dumper, when not nil, renders that JSON on demand instead: a large
	// configuration is rendered only when /config_dump is asked, not on
	// every update. It is safe for concurrent use and may cache its result.
	Dumper func() ([]byte, error)
}

// ConfigDump returns the /config_dump JSON of s (see Set.Dumper), or nil
// if s has none.
func (s *Set) ConfigDump() ([]byte, error) {
	if s.Dumper != nil {
		return s.Dumper()
	}
	return s.Dump, nil
}

// TCPProxy relays bytes to one cluster, or to one of several by weight.
type TCPProxy struct {
	StatPrefix string
	Cluster    string
	// Weighted, when not empty, replaces Cluster.
	Weighted    []WeightedCluster
	IdleTimeout time.Duration // 0: none (Envoy's default is 1h; decoders fill it)
	// AccessLogs are written for every connection, in order.
	AccessLogs []AccessLog
}

// HTTPManager is an HTTP connection manager: its HTTP filters, then the
// router.
type HTTPManager struct {
	StatPrefix string
	// Filters run in order before the router (which is not listed).
	Filters []HTTPFilter
	// Exactly one of RDSName and Routes is set.
	RDSName string
	Routes  *RouteConfig
	// StreamIdleTimeout bounds the wait for request and response bytes.
	StreamIdleTimeout time.Duration
	// RequestTimeout bounds the whole request, 0 for none.
	RequestTimeout time.Duration
	// RequestHeadersTimeout bounds the reading of a request head, from its
	// first byte, 0 for none.
	RequestHeadersTimeout time.Duration
	// AcceptHTTP10 admits HTTP/1.0 requests, answered 426 otherwise;
	// DefaultHostHTTP10 is the Host of those without one.
	AcceptHTTP10      bool
	DefaultHostHTTP10 string
	// UseRemoteAddress/XFF: append the peer address to X-Forwarded-For.
	UseRemoteAddress bool
	// NormalizePath and MergeSlashes normalize request paths (RFC 3986)
	// and merge slashes before routing, as Envoy's fields of those names.
	NormalizePath, MergeSlashes bool
	// XFCC is forward_client_cert_details and
	// set_current_client_cert_details.
	XFCC XFCC
	// Tracing is set when the listener asks for tracing, which meshlb
	// accepts but does not do (no spans are emitted).
	Tracing bool
	// Codec is the codec_type: which server codec serves the connections.
	Codec Codec
	// HTTP2 is http2_protocol_options, for connections the HTTP/2 codec
	// serves.
	HTTP2 HTTP2Options
	// GenerateRequestID gives requests without x-request-id one
	// (generate_request_id, default true); PreserveExternalRequestID keeps
	// a client's own under UseRemoteAddress.
	GenerateRequestID         bool
	PreserveExternalRequestID bool
	// SuppressEnvoyHeaders is the router's suppress_envoy_headers: no
	// x-envoy-expected-rq-timeout-ms or x-envoy-upstream-service-time.
	SuppressEnvoyHeaders bool
	// AccessLogs are written for every request, in order.
	AccessLogs []AccessLog
	// Upgrades are upgrade_configs: the upgrade types (websocket, ...)
	// the listener tunnels, unless a route says otherwise.
	Upgrades []Upgrade
}

// Upgrade is one upgrade_configs entry of the HTTP connection manager or
// a route: whether requests asking to upgrade to Type (compared without
// case) are let through.
type Upgrade struct {
	Type    string
	Enabled bool
}

// UpgradeAllowed reports whether a request asking to upgrade to typ is
// let through under the listener's upgrades hcm and its route's route,
// as Envoy decides (arch_overview/http/upgrades): a route entry for typ
// decides; else the listener's entry; else it is refused.
func UpgradeAllowed(typ []byte, hcm, route []Upgrade) bool {
	if u := findUpgrade(typ, route); u != nil {
		return u.Enabled
	}
	if u := findUpgrade(typ, hcm); u != nil {
		return u.Enabled
	}
	return false
}

// equalFoldASCII compares s and b without ASCII case, without converting
// b (the request's field) to a string.
func equalFoldASCII(s string, b []byte) bool {
	if len(s) != len(b) {
		return false
	}
	for i := range len(s) {
		x, y := s[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func findUpgrade(typ []byte, us []Upgrade) *Upgrade {
	for i := range us {
		if equalFoldASCII(us[i].Type, typ) {
			return &us[i]
		}
	}
	return nil
}

// Codec is the HTTP connection manager's codec_type.
type Codec int

// Codecs.
const (
	// CodecAuto serves HTTP/2 to a connection that negotiated "h2" by ALPN
	// or, in plaintext, opens with the HTTP/2 client preface; HTTP/1.1
	// otherwise.
	CodecAuto  Codec = iota
	CodecHTTP1       // HTTP/1.1 only
	CodecHTTP2       // HTTP/2 only (h2 over TLS, h2c with prior knowledge)
)

// HTTP2Options are the HTTP/2 server codec's settings, from Envoy's
// Http2ProtocolOptions. A zero field takes the codec's default.
type HTTP2Options struct {
	// MaxConcurrentStreams is SETTINGS_MAX_CONCURRENT_STREAMS.
	MaxConcurrentStreams uint32
	// InitialStreamWindowSize is the flow-control window the proxy grants
	// each request body (SETTINGS_INITIAL_WINDOW_SIZE).
	InitialStreamWindowSize uint32
	// InitialConnectionWindowSize is the connection's flow-control window
	// for request bodies.
	InitialConnectionWindowSize uint32
	// AllowConnect is allow_connect: the codec accepts CONNECT, and
	// extended CONNECT (RFC 8441) for upgrades such as WebSocket.
	AllowConnect bool
}

// RouteConfig is a set of virtual hosts, matched by Host header.
type RouteConfig struct {
	Name         string
	VirtualHosts []VirtualHost
	// ValidateClusters is the route configuration's validate_clusters
	// when it is set; nil means Envoy's default (true for a route
	// configuration inline in a listener, false for one fetched over RDS).
	ValidateClusters *bool
	// Headers are the configuration-wide header mutations, applied after
	// the virtual host's and the route's (Envoy's default order).
	Headers HeaderMutations
}

// VirtualHost holds the routes for a set of domains. Domains follow
// Envoy's rules: exact, "*.suffix", "prefix*" or "*".
type VirtualHost struct {
	Name    string
	Domains []string
	Routes  []Route
	Headers HeaderMutations
}

// Route is one match and the action taken when it matches. Exactly one of
// Action, Direct and Redirect is set.
type Route struct {
	Name     string
	Match    RouteMatch
	Action   *RouteAction
	Direct   *DirectResponse
	Redirect *Redirect
	// PerFilter holds typed_per_filter_config by filter name: the route's
	// own entries and its virtual host's (the route's win). Entries that
	// came from the virtual host are shared by its routes.
	PerFilter map[string]*HTTPFilter
	// Headers are the route's own header mutations, applied first.
	Headers HeaderMutations
}

// PathMatch says how RouteMatch.Path is compared.
type PathMatch int

// Path match kinds, as Envoy's RouteMatch.path_specifier.
const (
	PathPrefix          PathMatch = iota // "prefix"
	PathExact                            // "path"
	PathRegex                            // "safe_regex" (RE2 syntax, whole path)
	PathSeparatedPrefix                  // "path_separated_prefix"
)

// RouteMatch selects requests.
type RouteMatch struct {
	Kind          PathMatch
	Path          string // prefix, exact path or regex source
	CaseSensitive bool   // default true
	Headers       []HeaderMatch
	Query         []QueryMatch
	// GRPC, when true, matches only requests with content-type application/grpc.
	GRPC bool
}

// StringMatchKind is how a StringMatch compares.
type StringMatchKind int

// String match kinds, as Envoy's type.matcher.v3.StringMatcher, plus Present.
const (
	MatchExact StringMatchKind = iota
	MatchPrefix
	MatchSuffix
	MatchContains
	MatchRegex
	MatchPresent // the header or parameter exists, any value
)

// StringMatch compares one value.
type StringMatch struct {
	Kind       StringMatchKind
	Value      string // literal or regex source
	IgnoreCase bool
}

// HeaderMatch matches one request header. Name is lower case; ":method",
// ":authority", ":path" and ":scheme" address the pseudo-headers.
type HeaderMatch struct {
	Name   string
	Match  StringMatch
	Invert bool
}

// QueryMatch matches one query parameter.
type QueryMatch struct {
	Name  string
	Match StringMatch
}

// WeightedCluster is one target of a weighted split.
type WeightedCluster struct {
	Name   string
	Weight uint32
}

// RouteAction forwards to a cluster.
type RouteAction struct {
	Cluster  string
	Weighted []WeightedCluster // when not empty, replaces Cluster
	// Timeout bounds the wait for the whole upstream response; Envoy's
	// default is 15s and decoders fill it; 0 means none.
	Timeout time.Duration
	// IdleTimeout, when set, replaces the connection manager's
	// StreamIdleTimeout for the route's waits on its upstream (Envoy's
	// route idle_timeout; Consul's local_idle_timeout_ms); 0 turns the
	// idle bound off for the route. nil: the connection manager's.
	IdleTimeout   *time.Duration
	PrefixRewrite string
	HostRewrite   string
	// RegexRewrite, when set, rewrites the path instead of PrefixRewrite.
	RegexRewrite *RegexRewrite
	// HostRewriteHeader takes the upstream Host from this request header
	// (lower case) when the request has it.
	HostRewriteHeader string
	Retry             *RetryPolicy
	// HashPolicy makes the request's hash for the hashing balancers
	// (Envoy's hash_policy), in order.
	HashPolicy []HashPolicy
	// GRPCTimeout, when set, makes a request's grpc-timeout header its
	// timeout (max_stream_duration.grpc_timeout_header_max); nil: the
	// header is ignored.
	GRPCTimeout *GRPCTimeout
	// Upgrades are the route's upgrade_configs, which override the
	// listener's for their types.
	Upgrades []Upgrade
}

// GRPCTimeout is how a route takes a gRPC request's timeout from its
// grpc-timeout header: capped at Max (0: uncapped), less Offset.
type GRPCTimeout struct {
	Max, Offset time.Duration
}

// HashPolicyKind says what a hash policy hashes.
type HashPolicyKind int

// Hash policy kinds, as Envoy's RouteAction.HashPolicy.
const (
	HashHeader   HashPolicyKind = iota // the value of header Name
	HashSourceIP                       // the client's IP (connection_properties.source_ip)
	HashQuery                          // the value of query parameter Name
	HashCookie                         // the value of cookie Name
	// HashFilterState hashes the filter-state object Name when it is
	// hashable; no meshlb filter sets one, so it finds no value, as
	// Envoy's does for a key no filter set.
	HashFilterState
)

// HashPolicy is one of a route's hash policies. Terminal: once a hash is
// made, later policies are skipped.
type HashPolicy struct {
	Kind     HashPolicyKind
	Name     string
	Terminal bool
	// Cookie, for HashCookie, says how a missing cookie is set; nil:
	// it is not (no ttl).
	Cookie *SetCookie
}

// SetCookie is how a cookie hash policy with a ttl sets its cookie when
// the request lacks it (Envoy's addDownstreamSetCookie).
type SetCookie struct {
	// MaxAge is the cookie's Max-Age in whole seconds; 0 makes a session
	// cookie (no Max-Age).
	MaxAge int64
	// Path is the cookie's Path attribute; empty: none.
	Path string
	// Attributes follow Path, as name=value or name alone when the value
	// is empty.
	Attributes []CookieAttribute
}

// CookieAttribute is one extra attribute of a set cookie.
type CookieAttribute struct{ Name, Value string }

// RetryPolicy retries failed upstream attempts.
type RetryPolicy struct {
	On         []string // Envoy retry_on conditions, e.g. "5xx", "connect-failure"
	NumRetries int
	PerTry     time.Duration
	// RetriableStatusCodes are the statuses retried under the
	// "retriable-status-codes" condition (retry_policy.retriable_status_codes).
	RetriableStatusCodes []int
	// PreviousHosts makes a retry prefer endpoints not yet tried for the
	// request (Envoy's envoy.retry_host_predicates.previous_hosts),
	// picking again up to HostSelectionAttempts times.
	PreviousHosts         bool
	HostSelectionAttempts int
	// PreviousPriorities, when positive, is the update_frequency of Envoy's
	// envoy.retry_priorities.previous_priorities: after every that many
	// attempts, a retry spreads its load as if the priority levels the
	// request tried had no available endpoint (back to the normal load
	// when that leaves none).
	PreviousPriorities uint32
}

// DirectResponse answers without an upstream.
type DirectResponse struct {
	Status int
	Body   string
}

// Redirect answers with a redirect.
type Redirect struct {
	Status     int // 301, 302, 303, 307, 308
	Scheme     string
	Host       string
	Path       string
	StripQuery bool
}

// DiscoveryType is how a cluster learns its endpoints.
type DiscoveryType int

// Discovery types, as Envoy's Cluster.type.
const (
	DiscoveryStatic DiscoveryType = iota
	DiscoveryEDS
)

// LBPolicy names a load-balancing policy registered in sidecar/balancer,
// e.g. "round_robin", "least_request", "random".
type LBPolicy string

// Cluster is a named group of endpoints with a policy to pick among them.
type Cluster struct {
	Name           string
	Type           DiscoveryType
	LBPolicy       LBPolicy
	ConnectTimeout time.Duration
	// EDSName is the name the cluster's endpoints come under (Envoy's
	// eds_cluster_config.service_name, defaulting to Name). Only for EDS.
	EDSName string
	// Static is the cluster's load assignment for STATIC clusters.
	Static *LoadAssignment
	// MaxConnections etc. are circuit-breaker thresholds (default
	// priority). 0 means no limit; decoders fill Envoy's defaults, and store
	// an explicit 0 (nothing allowed) as a negative value.
	MaxConnections     int
	MaxPendingRequests int
	MaxRequests        int
	MaxRetries         int
	// RetryBudget, when set, replaces MaxRetries (circuit breakers'
	// retry_budget).
	RetryBudget *RetryBudget
	// IdleTimeout closes upstream connections idle that long in the pool
	// (Envoy's common_http_protocol_options.idle_timeout); 0 for never.
	// Decoders fill Envoy's default, 1h.
	IdleTimeout time.Duration
	// HTTP is the HTTP protocol of upstream connections and its options;
	// the zero value is HTTP/1.1.
	HTTP UpstreamHTTP
	// TLS, when set, makes upstream connections TLS; nil: plaintext.
	TLS *UpstreamTLS
	// HealthCheck is the cluster's active health check, or nil.
	HealthCheck *HealthCheck
	// Outlier is the cluster's outlier detection, or nil.
	Outlier *OutlierDetection
	// RingHash configures the ring_hash policy; nil means Envoy's defaults.
	RingHash *RingHash
	// MaglevTableSize is the maglev policy's table size, a prime; 0 means
	// Envoy's default, 65537.
	MaglevTableSize uint64
	// PanicThreshold is common_lb_config.healthy_panic_threshold in
	// percent: a priority level with a smaller share of healthy and
	// degraded endpoints balances over all of its endpoints. 0 disables
	// panic mode; decoders fill Envoy's default, 50.
	PanicThreshold float64
	// LocalityWeighted enables locality-weighted balancing
	// (common_lb_config.locality_weighted_lb_config): a locality is picked
	// first, by its weight times its availability.
	LocalityWeighted bool
	// ZoneAware tunes zone-aware routing (common_lb_config.zone_aware_lb_config),
	// which round_robin, least_request and random do whenever the
	// bootstrap names a local cluster; nil means Envoy's defaults.
	ZoneAware *ZoneAware
	// LeastRequest configures the least_request policy; nil means Envoy's
	// defaults.
	LeastRequest *LeastRequest
	// PeakEWMA configures the peak_ewma policy; nil means its defaults.
	PeakEWMA *PeakEWMA
	// SlowStart ramps up the traffic of new endpoints (round_robin and
	// least_request); nil: none.
	SlowStart *SlowStart
}

// ZoneAware is Envoy's zone_aware_lb_config.
type ZoneAware struct {
	// RoutingEnabled is the percentage of picks that are zone aware
	// (routing_enabled, rounded; Envoy's default 100).
	RoutingEnabled uint32
	// MinClusterSize is the fewest healthy priority-0 endpoints the
	// upstream cluster needs for zone-aware routing (Envoy's default 6).
	MinClusterSize uint64
	// FailTrafficOnPanic fails a pick, rather than balancing over all
	// endpoints, when the upstream level or the local cluster is in panic.
	FailTrafficOnPanic bool
}

// RetryBudget is Envoy's circuit_breakers retry_budget: the retries in
// flight may reach Percent of the requests active or pending, and at
// least MinConcurrency. Decoders fill Envoy's defaults, 20% and 3.
type RetryBudget struct {
	Percent        float64
	MinConcurrency uint32
}

// LeastRequest is Envoy's least_request_lb_config. Zero values mean
// Envoy's defaults: ChoiceCount 2, ActiveRequestBias 1 (BiasSet
// distinguishes an explicit 0).
type LeastRequest struct {
	ChoiceCount       uint32
	ActiveRequestBias float64
	BiasSet           bool
}

// PeakEWMA configures the peak-EWMA power-of-two-choices policy
// (Linkerd's): DecayTime is the EWMA's time constant (default 10s),
// DefaultRTT the latency assumed before the first outcome (default 30ms).
type PeakEWMA struct {
	DecayTime, DefaultRTT time.Duration
}

// SlowStart is Envoy's slow_start_config: an endpoint younger than Window
// (since it was added or passed its active check again) gets its weight
// scaled by max(MinWeightPercent/100, (age/Window)^(1/Aggression)).
// Decoders fill Aggression (default 1) and MinWeightPercent (default 10).
type SlowStart struct {
	Window           time.Duration
	Aggression       float64
	MinWeightPercent float64
}

// UpstreamProtocol is the HTTP protocol a cluster speaks to its endpoints.
type UpstreamProtocol int

// Upstream protocols, as Envoy's HttpProtocolOptions.upstream_protocol_options.
const (
	// UpstreamHTTP1 is HTTP/1.1, the default (explicit_http_config
	// http_protocol_options).
	UpstreamHTTP1 UpstreamProtocol = iota
	// UpstreamHTTP2 is HTTP/2 with prior knowledge (h2c in plaintext):
	// explicit_http_config http2_protocol_options, or the cluster's
	// legacy http2_protocol_options.
	UpstreamHTTP2
	// UpstreamDownstream is the protocol of the client's request
	// (use_downstream_protocol_config).
	UpstreamDownstream
	// UpstreamAuto is HTTP/2 or HTTP/1.1 per connection, as TLS
	// negotiates by ALPN (auto_config; the cluster has TLS).
	UpstreamAuto
)

// UpstreamHTTP is a cluster's upstream HTTP protocol and its options
// (Envoy's HttpProtocolOptions).
type UpstreamHTTP struct {
	Protocol UpstreamProtocol
	// MaxConcurrentStreams bounds the streams in flight on one HTTP/2
	// connection, below the server's SETTINGS_MAX_CONCURRENT_STREAMS
	// (http2_protocol_options.max_concurrent_streams); 0: the server's
	// alone.
	MaxConcurrentStreams uint32
	// MaxRequestsPerConnection: a connection that carried that many
	// requests takes no new one (common_http_protocol_options
	// max_requests_per_connection); 0: no limit.
	MaxRequestsPerConnection uint32
}

// RingHash is Envoy's ring_hash_lb_config (hash_function XX_HASH only).
// A zero size means Envoy's default: 1024 minimum, 8M maximum.
type RingHash struct {
	MinRingSize, MaxRingSize uint64
}

// HealthStatus is an endpoint's health as the control plane reports it.
type HealthStatus int

// Health statuses, as Envoy's core.v3.HealthStatus (UNKNOWN counts as healthy).
const (
	Healthy HealthStatus = iota
	Unhealthy
	Draining
	Degraded
)

// Endpoint is one upstream address.
type Endpoint struct {
	Address  string // host:port
	Weight   uint32 // >= 1
	Health   HealthStatus
	Priority uint32
	// Locality names the endpoint's locality ("region/zone/sub_zone"),
	// and LocalityWeight is that locality's load_balancing_weight (0:
	// unset), for locality-weighted balancing.
	Locality       string
	LocalityWeight uint32
}

// LoadAssignment is the endpoint set of one cluster.
type LoadAssignment struct {
	ClusterName string
	Endpoints   []Endpoint
	// Overprovisioning is policy.overprovisioning_factor in percent: how
	// much a priority level's healthy share is inflated before traffic
	// spills to the next level. 0 means Envoy's default, 140.
	Overprovisioning uint32
}

// ADS says where and how the sidecar fetches dynamic resources.
type ADS struct {
	// Delta selects incremental xDS (api_type DELTA_GRPC) over
	// state-of-the-world (GRPC).
	Delta bool
	// Cluster is the static cluster that holds the control servers.
	Cluster string
	// Targets are the control server addresses (host:port), from Cluster.
	Targets []string
	// LDS and CDS say whether listeners and clusters come from ADS.
	LDS, CDS bool
	// Metadata is sent on every ADS stream (the gRPC service's
	// initial_metadata), e.g. Consul's x-consul-token.
	Metadata []Header
	// TLS, when set, is the transport of the ADS connection (the ADS
	// cluster's UpstreamTlsContext); nil: plaintext.
	TLS *UpstreamTLS
}

// Bootstrap is a decoded Envoy bootstrap file.
type Bootstrap struct {
	NodeID      string
	NodeCluster string
	// Locality is node.locality as "region/zone/sub_zone" (the form of
	// [Endpoint].Locality), or "" when unset.
	Locality string
	// LocalCluster is cluster_manager.local_cluster_name: the cluster of
	// the sidecar's own service, for zone-aware routing; "" for none.
	LocalCluster string
	// AdminAddress is where the admin listener binds (host:port), or "".
	AdminAddress string
	// Static holds static_resources.
	Static Set
	// ADS is nil when the bootstrap has no dynamic_resources.ads_config.
	ADS *ADS
	// MaxDownstreamConnections bounds the connections open on all
	// listeners together (overload_manager's
	// global_downstream_max_connections); 0 for the sidecar's own bound.
	MaxDownstreamConnections int64
	// AdminAccessLogs are the files admin requests are logged to
	// (admin.access_log file sinks and admin.access_log_path).
	AdminAccessLogs []string
	// Stats is stats_config.
	Stats StatsConfig
	// Runtime holds layered_runtime's static layers, flattened to dotted
	// keys, later layers overriding earlier ones; a value is its text
	// ("1048576", "true", "text").
	Runtime map[string]string
}
