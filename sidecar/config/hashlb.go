package config

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
)

// maxRingSize is Envoy's upper bound on both ring sizes (8M).
const maxRingSize = 8 * 1024 * 1024

var (
	ringHashFields = allow(&clusterv3.Cluster_RingHashLbConfig{}, "minimum_ring_size", "maximum_ring_size", "hash_function")
	maglevFields   = allow(&clusterv3.Cluster_MaglevLbConfig{}, "table_size")
)

// decodeHashLB decodes ring_hash_lb_config and maglev_lb_config into out,
// whose LBPolicy is already set; each is allowed only with its policy.
// Sizes left unset stay 0 (the balancer's Envoy defaults).
func decodeHashLB(c *clusterv3.Cluster, out *Cluster) error {
	if rh := c.GetRingHashLbConfig(); rh != nil {
		if out.LBPolicy != "ring_hash" {
			return errorf("ring_hash_lb_config", "only allowed with lb_policy RING_HASH")
		}
		if err := ringHashFields.check(rh); err != nil {
			return within("ring_hash_lb_config", err)
		}
		if f := rh.GetHashFunction(); f != clusterv3.Cluster_RingHashLbConfig_XX_HASH {
			return errorf("ring_hash_lb_config.hash_function", "%s is not supported", f)
		}
		cfg := &RingHash{MinRingSize: rh.GetMinimumRingSize().GetValue(), MaxRingSize: rh.GetMaximumRingSize().GetValue()}
		if err := checkRingSizes(cfg); err != nil {
			return within("ring_hash_lb_config", err)
		}
		out.RingHash = cfg
	}
	if m := c.GetMaglevLbConfig(); m != nil {
		if out.LBPolicy != "maglev" {
			return errorf("maglev_lb_config", "only allowed with lb_policy MAGLEV")
		}
		if err := maglevFields.check(m); err != nil {
			return within("maglev_lb_config", err)
		}
		if ts := m.GetTableSize(); ts != nil {
			if n := ts.GetValue(); !isPrime(n) || n > 5000011 {
				return errorf("maglev_lb_config.table_size", "%d is not a prime of at most 5000011", n)
			}
			out.MaglevTableSize = ts.GetValue()
		}
	}
	return nil
}

// checkRingSizes applies Envoy's bounds: both sizes at most 8M, and the
// minimum (default 1024) not above the maximum (default 8M).
func checkRingSizes(rh *RingHash) error {
	if rh.MinRingSize > maxRingSize {
		return errorf("minimum_ring_size", "%d is over %d", rh.MinRingSize, maxRingSize)
	}
	if rh.MaxRingSize > maxRingSize {
		return errorf("maximum_ring_size", "%d is over %d", rh.MaxRingSize, maxRingSize)
	}
	lo, hi := rh.MinRingSize, rh.MaxRingSize
	if lo == 0 {
		lo = 1024
	}
	if hi == 0 {
		hi = maxRingSize
	}
	if lo > hi {
		return errorf("minimum_ring_size", "%d is above maximum_ring_size %d", lo, hi)
	}
	return nil
}

func isPrime(n uint64) bool {
	if n < 2 {
		return false
	}
	for d := uint64(2); d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
}
