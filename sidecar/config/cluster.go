package config

import (
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// Envoy's defaults: connect_timeout, and the circuit-breaker thresholds.
const (
	defaultConnectTimeout     = 5 * time.Second
	defaultMaxConnections     = 1024
	defaultMaxPendingRequests = 1024
	defaultMaxRequests        = 1024
	defaultMaxRetries         = 3
	defaultBudgetPercent      = 20
	defaultMinRetries         = 3
)

var (
	clusterFields = allow(&clusterv3.Cluster{},
		"name", "alt_stat_name", "type", "eds_cluster_config", "connect_timeout",
		"lb_policy", "load_assignment", "circuit_breakers", "metadata",
		"common_http_protocol_options", "http2_protocol_options", "typed_extension_protocol_options", "transport_socket", "health_checks",
		"outlier_detection", "ring_hash_lb_config", "maglev_lb_config", "common_lb_config",
		"load_balancing_policy", "least_request_lb_config", "round_robin_lb_config")
	// The eds_config is not checked: the sidecar takes endpoints from
	// wherever its clusters come from (ADS).
	edsConfigFields = allow(&clusterv3.Cluster_EdsClusterConfig{}, "eds_config", "service_name")
	breakersFields  = allow(&clusterv3.CircuitBreakers{}, "thresholds")
	thresholdFields = allow(&clusterv3.CircuitBreakers_Thresholds{},
		"priority", "max_connections", "max_pending_requests", "max_requests", "max_retries", "track_remaining",
		"retry_budget")
	retryBudgetFields = allow(&clusterv3.CircuitBreakers_Thresholds_RetryBudget{}, "budget_percent", "min_retry_concurrency")
)

var lbPolicies = map[clusterv3.Cluster_LbPolicy]LBPolicy{
	clusterv3.Cluster_ROUND_ROBIN:   "round_robin",
	clusterv3.Cluster_LEAST_REQUEST: "least_request",
	clusterv3.Cluster_RANDOM:        "random",
	clusterv3.Cluster_RING_HASH:     "ring_hash",
	clusterv3.Cluster_MAGLEV:        "maglev",
}

// DecodeCluster validates c and decodes it into a [Cluster] of type STATIC
// (with its load_assignment) or EDS. An error names the cluster and the
// field, as in
//
//	cluster "be": lb_policy: CLUSTER_PROVIDED is not supported
//
// DecodeCluster is safe for concurrent use and does not retain c.
func DecodeCluster(c *clusterv3.Cluster) (*Cluster, error) {
	out, err := decodeCluster(c)
	if err != nil {
		return nil, &resourceError{kind: "cluster", name: c.GetName(), err: err}
	}
	return out, nil
}

func decodeCluster(c *clusterv3.Cluster) (*Cluster, error) {
	if err := validate(c); err != nil {
		return nil, err
	}
	if err := clusterFields.check(c); err != nil {
		return nil, err
	}
	timeout, err := durationOr(c.GetConnectTimeout(), defaultConnectTimeout)
	if err != nil {
		return nil, within("connect_timeout", err)
	}
	out := &Cluster{Name: c.GetName(), ConnectTimeout: timeout}
	if err := decodeBalancing(c, out); err != nil {
		return nil, err
	}
	if err := decodeCommonLB(c, out); err != nil {
		return nil, err
	}
	if err := decodeDiscovery(c, out); err != nil {
		return nil, err
	}
	if err := decodeBreakers(c.GetCircuitBreakers(), out); err != nil {
		return nil, within("circuit_breakers", err)
	}
	if err := decodeHTTPOptions(c, out); err != nil {
		return nil, err
	}
	if out.TLS, err = decodeUpstreamTLS(c.GetTransportSocket(), out.HTTP.Protocol == spec.UpstreamAuto); err != nil {
		return nil, within("transport_socket", err)
	}
	if err := checkAutoConfig(out); err != nil {
		return nil, err
	}
	if err := decodeHealthChecks(c, out); err != nil {
		return nil, err
	}
	if out.Outlier, err = decodeOutlier(c.GetOutlierDetection()); err != nil {
		return nil, within("outlier_detection", err)
	}
	return out, nil
}

// decodeBalancing sets out's balancing policy and its options, from
// load_balancing_policy or else lb_policy and its *_lb_config.
func decodeBalancing(c *clusterv3.Cluster, out *Cluster) error {
	if c.GetLoadBalancingPolicy() != nil {
		return decodeLBPolicy(c, out)
	}
	policy, ok := lbPolicies[c.GetLbPolicy()]
	if !ok {
		return errorf("lb_policy", "%s is not supported", c.GetLbPolicy())
	}
	out.LBPolicy = policy
	if err := decodeHashLB(c, out); err != nil {
		return err
	}
	return decodeLegacyLB(c, out)
}

// decodeDiscovery sets out's type and its endpoint source: the inline
// load_assignment of a STATIC cluster (none means no endpoints), or the
// EDS name of an EDS cluster.
func decodeDiscovery(c *clusterv3.Cluster, out *Cluster) error {
	switch t := c.GetType(); t {
	case clusterv3.Cluster_STATIC:
		if c.GetEdsClusterConfig() != nil {
			return errorf("eds_cluster_config", "only allowed in EDS clusters")
		}
		out.Type, out.Static = DiscoveryStatic, &LoadAssignment{ClusterName: c.GetName()}
		if la := c.GetLoadAssignment(); la != nil {
			static, err := decodeLoadAssignment(la)
			if err != nil {
				return within("load_assignment", err)
			}
			out.Static = static
		}
	case clusterv3.Cluster_EDS:
		if c.GetLoadAssignment() != nil {
			return errorf("load_assignment", "not allowed in EDS clusters")
		}
		eds := c.GetEdsClusterConfig()
		if eds == nil {
			return errorf("eds_cluster_config", "required in EDS clusters")
		}
		if err := edsConfigFields.check(eds); err != nil {
			return within("eds_cluster_config", err)
		}
		out.Type, out.EDSName = DiscoveryEDS, eds.GetServiceName()
		if out.EDSName == "" {
			out.EDSName = c.GetName()
		}
	default:
		return errorf("type", "%s is not supported", t)
	}
	return nil
}

// decodeBreakers sets out's circuit-breaker limits from the DEFAULT
// priority thresholds, or Envoy's defaults. HIGH priority thresholds are
// checked and accepted but never apply: no supported route selects HIGH.
func decodeBreakers(cb *clusterv3.CircuitBreakers, out *Cluster) error {
	out.MaxConnections, out.MaxPendingRequests = defaultMaxConnections, defaultMaxPendingRequests
	out.MaxRequests, out.MaxRetries = defaultMaxRequests, defaultMaxRetries
	if err := breakersFields.check(cb); err != nil {
		return err
	}
	seen := make(map[corev3.RoutingPriority]bool)
	for i, t := range cb.GetThresholds() {
		if err := thresholdFields.check(t); err != nil {
			return within(index("thresholds", i), err)
		}
		if seen[t.GetPriority()] {
			return errorf(index("thresholds", i)+".priority", "%s is listed twice", t.GetPriority())
		}
		seen[t.GetPriority()] = true
		if err := retryBudgetFields.check(t.GetRetryBudget()); err != nil {
			return within(index("thresholds", i)+".retry_budget", err)
		}
		if t.GetPriority() == corev3.RoutingPriority_DEFAULT {
			setLimit(&out.MaxConnections, t.GetMaxConnections())
			setLimit(&out.MaxPendingRequests, t.GetMaxPendingRequests())
			setLimit(&out.MaxRequests, t.GetMaxRequests())
			setLimit(&out.MaxRetries, t.GetMaxRetries())
			if rb := t.GetRetryBudget(); rb != nil {
				out.RetryBudget = decodeRetryBudget(rb)
			}
		}
	}
	return nil
}

// decodeRetryBudget decodes a retry budget with Envoy's defaults (20% of
// the requests active or pending, at least 3 retries).
func decodeRetryBudget(rb *clusterv3.CircuitBreakers_Thresholds_RetryBudget) *RetryBudget {
	out := &RetryBudget{Percent: defaultBudgetPercent, MinConcurrency: defaultMinRetries}
	if p := rb.GetBudgetPercent(); p != nil {
		out.Percent = p.GetValue()
	}
	if m := rb.GetMinRetryConcurrency(); m != nil {
		out.MinConcurrency = m.GetValue()
	}
	return out
}

// setLimit sets *dst to v when v is set. An explicit 0, which allows
// nothing in Envoy, is stored as -1: 0 in a spec means no limit.
func setLimit(dst *int, v *wrapperspb.UInt32Value) {
	switch {
	case v == nil:
	case v.GetValue() == 0:
		*dst = -1
	default:
		*dst = int(v.GetValue())
	}
}
