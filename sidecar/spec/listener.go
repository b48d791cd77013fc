package spec

import (
	"net/netip"
	"time"
)

// Listener accepts connections on one address and hands each to the filter
// chain its [FilterChainMatch] selects, or to Default when none does.
type Listener struct {
	Name    string
	Address string // host:port
	// FilterChains are in configuration order; their matches are distinct.
	FilterChains []FilterChain
	// Default serves connections no chain matches (Envoy's
	// default_filter_chain); nil closes them.
	Default *FilterChain
	// TLSInspector, when set, reads each connection's TLS ClientHello
	// (without consuming it) before its chain is chosen, so chains can
	// match server names, application protocols and transport protocol
	// "tls".
	TLSInspector *TLSInspector
	// Inbound is traffic_direction INBOUND: /drain_listeners?inboundonly
	// stops it.
	Inbound bool
}

// TLSInspector configures Envoy's tls_inspector listener filter.
type TLSInspector struct {
	// Timeout bounds the wait for the ClientHello (listener_filters_timeout,
	// default 15s); 0 means no bound.
	Timeout time.Duration
	// ContinueOnTimeout serves a connection whose ClientHello is late as
	// raw_buffer instead of closing it.
	ContinueOnTimeout bool
	// CloseOnParseError closes connections whose first record is a
	// malformed ClientHello instead of serving them as raw_buffer.
	CloseOnParseError bool
}

// Chains calls yield with each filter chain of l, the default one last.
func (l *Listener) Chains(yield func(*FilterChain) bool) {
	for i := range l.FilterChains {
		if !yield(&l.FilterChains[i]) {
			return
		}
	}
	if l.Default != nil {
		yield(l.Default)
	}
}

// RDSNames returns the route configuration names the listener's HTTP
// connection managers fetch over RDS, in chain order, without repeats.
func (l *Listener) RDSNames() []string {
	var out []string
	for fc := range l.Chains {
		if fc.HTTP == nil || fc.HTTP.RDSName == "" {
			continue
		}
		name := fc.HTTP.RDSName
		if !contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, v := range ss {
		if v == s {
			return true
		}
	}
	return false
}

// FilterChain is one chain of network filters: Filters run in order on
// each new connection, then the terminal filter, exactly one of TCP and
// HTTP, serves it.
type FilterChain struct {
	Name    string
	Match   FilterChainMatch
	Filters []NetworkFilter
	TCP     *TCPProxy
	HTTP    *HTTPManager
	// TLS, when set, terminates TLS on the chain's connections before the
	// terminal filter sees them; nil serves them as they come.
	TLS *DownstreamTLS
}

// SourceType is Envoy's FilterChainMatch.ConnectionSourceType.
type SourceType int

// Source types.
const (
	SourceAny      SourceType = iota // ANY
	SourceLocal                      // SAME_IP_OR_LOOPBACK: the peer is a loopback address or the local address
	SourceExternal                   // EXTERNAL: any other peer
)

// FilterChainMatch holds the criteria a connection must meet for its
// chain to be selected. A zero criterion (0, nil, "") matches every
// connection. Prefixes are masked (canonical); names are lower case.
type FilterChainMatch struct {
	DestinationPort      uint16         // destination_port
	PrefixRanges         []netip.Prefix // prefix_ranges: destination IP
	ServerNames          []string       // server_names: exact or "*.suffix"
	TransportProtocol    string         // transport_protocol, e.g. "raw_buffer", "tls"
	ApplicationProtocols []string       // application_protocols (ALPN)
	DirectSourcePrefixes []netip.Prefix // direct_source_prefix_ranges
	SourceType           SourceType     // source_type
	SourcePrefixRanges   []netip.Prefix // source_prefix_ranges
	SourcePorts          []uint16       // source_ports
}

// NetworkFilter is one non-terminal network filter: its Envoy type URL and
// its decoded configuration, a pointer to a spec type such as
// [LocalRateLimit].
type NetworkFilter struct {
	Name    string
	TypeURL string
	Config  any
}

// LocalRateLimitType is the type URL of Envoy's network local rate limit
// filter, configured by [LocalRateLimit].
const LocalRateLimitType = "type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit"

// LocalRateLimit limits the rate of new connections with a token bucket:
// each connection takes a token, and one that finds none is closed.
type LocalRateLimit struct {
	StatPrefix string
	Bucket     TokenBucket
	// Disabled turns the filter off (runtime_enabled.default_value false).
	Disabled bool
}

// TokenBucket starts full with MaxTokens and gains TokensPerFill every
// FillInterval, up to MaxTokens.
type TokenBucket struct {
	MaxTokens     uint32
	TokensPerFill uint32
	FillInterval  time.Duration
}

// ConnectionLimitType is the type URL of Envoy's network connection limit
// filter, configured by [ConnectionLimit].
const ConnectionLimitType = "type.googleapis.com/envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit"

// ConnectionLimit bounds the connections open through one filter chain at
// once: a connection that would exceed MaxConnections is closed at once.
// Consul's max_inbound_connections puts it on a public listener.
type ConnectionLimit struct {
	StatPrefix     string
	MaxConnections uint64
	// Disabled turns the filter off (runtime_enabled.default_value false).
	Disabled bool
}
