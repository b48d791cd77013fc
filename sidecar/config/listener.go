package config

import (
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
)

// Envoy's default for tcp_proxy idle_timeout.
const defaultTCPIdleTimeout = time.Hour

var (
	listenerFields = allow(&listenerv3.Listener{},
		"name", "address", "stat_prefix", "filter_chains", "default_filter_chain", "metadata", "traffic_direction",
		"listener_filters", "listener_filters_timeout", "continue_on_listener_filters_timeout",
		"connection_balance_config")
	// exact_balance is what meshlb does anyway: one accept loop per
	// listener hands each connection to its own goroutine, so no worker
	// can be handed more than its share (checkBalance).
	balanceFields = allow(&listenerv3.Listener_ConnectionBalanceConfig{}, "exact_balance")

	tcpProxyFields = allow(&tcpproxyv3.TcpProxy{},
		"stat_prefix", "cluster", "weighted_clusters", "idle_timeout", "access_log")
	tcpWeightedFields      = allow(&tcpproxyv3.TcpProxy_WeightedCluster{}, "clusters")
	tcpClusterWeightFields = allow(&tcpproxyv3.TcpProxy_WeightedCluster_ClusterWeight{}, "name", "weight")

	tcpProxyType = typeURL(&tcpproxyv3.TcpProxy{})
)

// DecodeListener validates l and decodes it into a [Listener]. l must have
// a TCP socket address and at least one filter chain (in filter_chains or
// default_filter_chain); each chain holds network filters in order, the
// last of them terminal: tcp_proxy or http_connection_manager. Filters
// are recognised by the type URL of their typed_config, not by name. The
// chains' filter_chain_match criteria must not overlap (see
// [filterchain.Compile]). An error names the listener and the field, as in
//
//	listener "web": filter_chains[0].filters[0].typed_config: unsupported filter "type.googleapis.com/..."
//
// DecodeListener is safe for concurrent use and does not retain l.
func DecodeListener(l *listenerv3.Listener) (*Listener, error) {
	out, err := decodeListener(l)
	if err != nil {
		return nil, &resourceError{kind: "listener", name: l.GetName(), err: err}
	}
	return out, nil
}

func decodeListener(l *listenerv3.Listener) (*Listener, error) {
	if err := validate(l); err != nil {
		return nil, err
	}
	if err := listenerFields.check(l); err != nil {
		return nil, err
	}
	if l.GetName() == "" {
		return nil, errorf("name", "must not be empty")
	}
	if err := checkBalance(l.GetConnectionBalanceConfig()); err != nil {
		return nil, within("connection_balance_config", err)
	}
	addr, err := decodeAddress(l.GetAddress(), true)
	if err != nil {
		return nil, within("address", err)
	}
	out := &Listener{Name: l.GetName(), Address: addr, Inbound: l.GetTrafficDirection() == corev3.TrafficDirection_INBOUND}
	if err := decodeListenerFilters(l, out); err != nil {
		return nil, err
	}
	if err := decodeFilterChains(l, out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkBalance accepts connection_balance_config with exact_balance (or
// none) and refuses the other balancers (extend_balance names an
// extension meshlb does not have). meshlb has one accept loop per listener
// and serves each accepted connection on its own goroutine, which Go's
// scheduler spreads over every core: there are no per-worker accept
// queues for connections to be unevenly assigned to, which is what
// exact_balance asks Envoy to prevent.
func checkBalance(b *listenerv3.Listener_ConnectionBalanceConfig) error {
	if b == nil {
		return nil
	}
	if err := balanceFields.check(b); err != nil {
		return err
	}
	if b.GetExactBalance() == nil {
		return errorf("", "one of exact_balance or extend_balance is required")
	}
	return nil
}

// decodeTCPProxy decodes a validated TcpProxy.
func decodeTCPProxy(p *tcpproxyv3.TcpProxy) (*TCPProxy, error) {
	if err := tcpProxyFields.check(p); err != nil {
		return nil, err
	}
	idle, err := durationOr(p.GetIdleTimeout(), defaultTCPIdleTimeout)
	if err != nil {
		return nil, within("idle_timeout", err)
	}
	out := &TCPProxy{StatPrefix: p.GetStatPrefix(), Cluster: p.GetCluster(), IdleTimeout: idle}
	if wc := p.GetWeightedClusters(); wc != nil {
		if out.Weighted, err = decodeTCPWeighted(wc); err != nil {
			return nil, within("weighted_clusters", err)
		}
	} else if out.Cluster == "" {
		return nil, errorf("cluster", "must not be empty")
	}
	if out.AccessLogs, err = decodeAccessLogs(p.GetAccessLog(), true); err != nil {
		return nil, within("access_log", err)
	}
	return out, nil
}

func decodeTCPWeighted(wc *tcpproxyv3.TcpProxy_WeightedCluster) ([]WeightedCluster, error) {
	if err := tcpWeightedFields.check(wc); err != nil {
		return nil, err
	}
	out := make([]WeightedCluster, 0, len(wc.GetClusters()))
	for i, c := range wc.GetClusters() {
		if err := tcpClusterWeightFields.check(c); err != nil {
			return nil, within(index("clusters", i), err)
		}
		out = append(out, WeightedCluster{Name: c.GetName(), Weight: c.GetWeight()})
	}
	if err := checkWeights(out); err != nil {
		return nil, within("clusters", err)
	}
	return out, nil
}

// checkWeights requires named clusters and a positive total weight that
// fits in 32 bits, as Envoy does.
func checkWeights(ws []WeightedCluster) error {
	var total uint64
	for i, w := range ws {
		if w.Name == "" {
			return errorf(index("", i)+".name", "must not be empty")
		}
		total += uint64(w.Weight)
	}
	if total == 0 || total > 1<<32-1 {
		return errorf("", "total weight must be between 1 and 4294967295, got %d", total)
	}
	return nil
}
