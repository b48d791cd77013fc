package explain

import (
	"github.com/meshlb/meshlb/sidecar/balancer"
	"github.com/meshlb/meshlb/sidecar/filterchain"
	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/route"
)

// Report is the explanation of one request or connection: each decision
// the sidecar would make for it, in order, and why. Its JSON form is
// stable (field order is declaration order, lists are ordered).
type Report struct {
	Request  Request        `json:"request"`
	Listener *ListenerStep  `json:"listener,omitempty"`
	Chain    *ChainStep     `json:"filter_chain,omitempty"`
	Network  []FilterStep   `json:"network_filters,omitempty"`
	HTTP     *HTTPStep      `json:"http,omitempty"`
	Clusters []*ClusterStep `json:"clusters,omitempty"`
	// Outcome says in one line where the request or connection goes, or
	// who answers or closes it.
	Outcome string `json:"outcome"`
}

// Request is the request or connection explained, as the sidecar sees it.
type Request struct {
	Method    string   `json:"method,omitempty"`
	URL       string   `json:"url"`
	Headers   []string `json:"headers,omitempty"`
	From      string   `json:"from"`
	To        string   `json:"to"`
	TLS       bool     `json:"tls"`
	SNI       string   `json:"sni,omitempty"`
	ALPN      []string `json:"alpn,omitempty"`
	Principal string   `json:"principal,omitempty"`
}

// ListenerStep is the listener chosen and why.
type ListenerStep struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Why     string `json:"why"`
	// Transport is what the chain match sees of the transport: raw_buffer
	// or tls (with SNI and ALPN), and why.
	Transport string `json:"transport"`
}

// ChainStep is the filter chain chosen, with each match criterion.
type ChainStep struct {
	// Name is the chain's name; Position is filter_chains[i] or
	// default_filter_chain; both "" when no chain matches.
	Name     string             `json:"name,omitempty"`
	Position string             `json:"position,omitempty"`
	Steps    []filterchain.Step `json:"criteria"`
	Why      string             `json:"why"`
	// Terminal is the chain's terminal filter: http_connection_manager or
	// tcp_proxy.
	Terminal string `json:"terminal,omitempty"`
	// TLS says whether the chain terminates TLS.
	TLS bool `json:"tls"`
}

// FilterStep is a network filter and what it would do.
type FilterStep struct {
	Name    string              `json:"name"`
	Type    string              `json:"type"`
	Verdict filterchain.Verdict `json:"verdict"`
}

// HTTPStep is the HTTP part: path normalization, virtual host, routes
// tried, HTTP filters and the route's action.
type HTTPStep struct {
	RouteConfig string             `json:"route_config"`
	Path        string             `json:"path"`
	VirtualHost route.HostTrace    `json:"virtual_host"`
	Routes      []route.RouteTrace `json:"routes"`
	Filters     []httpfilter.Step  `json:"http_filters"`
	// Action is what the matched route does: cluster, weighted_clusters,
	// redirect, direct_response; "" without a route.
	Action string `json:"action,omitempty"`
	// Answer is the local answer (redirect, direct response, a filter's
	// reply, no route), if any.
	Answer string `json:"answer,omitempty"`
	// Split is the weighted_clusters split, when there are several.
	Split []SplitTarget `json:"split,omitempty"`
}

// SplitTarget is one cluster of a weighted split.
type SplitTarget struct {
	Cluster string `json:"cluster"`
	Weight  uint32 `json:"weight"`
	// Percent is the share of requests it gets.
	Percent float64 `json:"percent"`
}

// ClusterStep is a cluster the request or connection may go to: its
// circuit breakers, the hash, the balancer's plan, each endpoint's state
// and the pick.
type ClusterStep struct {
	Name      string         `json:"name"`
	Found     bool           `json:"found"`
	Breakers  []Breaker      `json:"circuit_breakers,omitempty"`
	Hash      *Hash          `json:"hash,omitempty"`
	Plan      *balancer.Plan `json:"balancer,omitempty"`
	Endpoints []EndpointStep `json:"endpoints,omitempty"`
	Pick      Pick           `json:"pick"`
}

// Breaker is one circuit breaker's state.
type Breaker struct {
	Name   string `json:"name"`
	Active int64  `json:"active"`
	// Max is the threshold; 0 means none.
	Max  int64 `json:"max"`
	Open bool  `json:"open"`
}

// Hash is the request's hash for a hashing balancer.
type Hash struct {
	Key      string           `json:"key"`
	Policies []route.HashStep `json:"policies,omitempty"`
	Why      string           `json:"why"`
	value    uint64           // 0: none
}

// EndpointStep is one endpoint's state as the balancer sees it.
type EndpointStep struct {
	Address  string `json:"address"`
	Weight   uint32 `json:"weight"`
	Priority uint32 `json:"priority"`
	Locality string `json:"locality,omitempty"`
	// Health renders the EDS health, the active health check, outlier
	// ejection and the operator's action.
	Health   string `json:"health"`
	Inflight int64  `json:"in_flight"`
	// Bucket is the balancer bucket the endpoint is in ("priority 0
	// healthy"); "" when picks never reach it.
	Bucket string `json:"bucket"`
}

// Pick is the endpoint a pick would take now, or the candidates when the
// policy picks in turn or at random.
type Pick struct {
	// Endpoint is the endpoint a pick takes; "" when the policy does not
	// make it a function of the request (see Candidates) or none may be
	// picked.
	Endpoint string `json:"endpoint,omitempty"`
	// Candidates are the endpoints a pick draws from, when Endpoint is "".
	Candidates []string `json:"candidates,omitempty"`
	Why        string   `json:"why"`
}
