package discovery

import (
	"cmp"
	"fmt"
	"time"
)

// LBPolicy names a load-balancing policy as Envoy's lb_policy does.
type LBPolicy string

// Load-balancing policies; empty means round robin.
const (
	LBRoundRobin   LBPolicy = "round_robin"
	LBLeastRequest LBPolicy = "least_request"
	LBRandom       LBPolicy = "random"
	LBRingHash     LBPolicy = "ring_hash"
	LBMaglev       LBPolicy = "maglev"
)

// Resilience is how the callers of a service balance, check and retry
// its endpoints (services.yaml's per-service keys; Consul's
// service-resolver load_balancer and upstream passive_health_check). The
// zero value is the translator's defaults: round robin, no checks, no
// retries, Envoy's route timeout.
type Resilience struct {
	LBPolicy LBPolicy `json:"lb_policy,omitempty"`
	// ChoiceCount is least_request's number of candidates; 0: 2.
	ChoiceCount int `json:"choice_count,omitempty"`
	// MinRingSize and MaxRingSize bound ring_hash's ring; 0: Envoy's.
	MinRingSize int `json:"min_ring_size,omitempty"`
	MaxRingSize int `json:"max_ring_size,omitempty"`
	// HashPolicies make the request hash of ring_hash and maglev.
	HashPolicies []HashPolicy `json:"hash_policies,omitempty"`
	// HealthCheck is an active health check; nil: none.
	HealthCheck *HealthCheck `json:"health_check,omitempty"`
	// Outlier is passive health checking; nil: none.
	Outlier *Outlier `json:"outlier_detection,omitempty"`
	// Retry and Timeout apply to requests the callers' routes send to
	// the service's own endpoints (not to other services' routes).
	Retry   *Retry        `json:"retry,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"`
}

// HashPolicy is one input of the request hash: exactly one of Header (a
// request header's value), Query (a query parameter's), Cookie (a cookie's)
// and SourceIP. Terminal ends the walk once a hash is made.
type HashPolicy struct {
	Header   string `json:"header,omitempty"`
	Query    string `json:"query,omitempty"`
	Cookie   string `json:"cookie,omitempty"`
	SourceIP bool   `json:"source_ip,omitempty"`
	Terminal bool   `json:"terminal,omitempty"`
	// CookieTTL, when set, has the proxy set the cookie when the request
	// lacks it, with that lifetime; CookieSession sets a session cookie
	// (Envoy's ttl 0). CookiePath is the cookie's path.
	CookieTTL     time.Duration `json:"cookie_ttl,omitempty"`
	CookieSession bool          `json:"cookie_session,omitempty"`
	CookiePath    string        `json:"cookie_path,omitempty"`
}

// HealthCheck is an active health check of every endpoint: an HTTP GET of
// Path that must answer 200 when Path is set, else a TCP connect.
// Decoders fill the defaults: Interval 5s, Timeout 1s, both thresholds 2.
type HealthCheck struct {
	Path               string        `json:"path,omitempty"`
	Interval           time.Duration `json:"interval"`
	Timeout            time.Duration `json:"timeout"`
	HealthyThreshold   int           `json:"healthy_threshold"`
	UnhealthyThreshold int           `json:"unhealthy_threshold"`
}

// Outlier ejects endpoints by consecutive 5xx (connect failures, resets
// and timeouts count): 0 values mean Envoy's defaults (5 in a row, 10s
// interval, 30s base ejection, 10% at most).
type Outlier struct {
	Consecutive5xx int `json:"consecutive_5xx,omitempty"`
	// Enforcing5xx, when set, is the percentage of consecutive-5xx
	// detections that eject (Envoy's enforcing_consecutive_5xx, 100).
	Enforcing5xx       *int          `json:"enforcing_consecutive_5xx,omitempty"`
	Interval           time.Duration `json:"interval,omitempty"`
	BaseEjectionTime   time.Duration `json:"base_ejection_time,omitempty"`
	MaxEjectionPercent int           `json:"max_ejection_percent,omitempty"`
}

// fillResilience sets r's documented defaults.
func fillResilience(r *Resilience) {
	if hc := r.HealthCheck; hc != nil {
		hc.Interval = cmp.Or(hc.Interval, 5*time.Second)
		hc.Timeout = cmp.Or(hc.Timeout, time.Second)
		hc.HealthyThreshold = cmp.Or(hc.HealthyThreshold, 2)
		hc.UnhealthyThreshold = cmp.Or(hc.UnhealthyThreshold, 2)
	}
}

// validateResilience checks r's policy and its options.
func validateResilience(r *Resilience) error {
	switch r.LBPolicy {
	case "", LBRoundRobin, LBLeastRequest, LBRandom, LBRingHash, LBMaglev:
	default:
		return fmt.Errorf("lb_policy %q is not one of round_robin, least_request, random, ring_hash, maglev", r.LBPolicy)
	}
	if r.ChoiceCount != 0 && (r.LBPolicy != LBLeastRequest || r.ChoiceCount < 2) {
		return fmt.Errorf("choice_count: only with least_request, and at least 2")
	}
	if (r.MinRingSize != 0 || r.MaxRingSize != 0) && r.LBPolicy != LBRingHash {
		return fmt.Errorf("ring sizes: only with ring_hash")
	}
	if r.MaxRingSize != 0 && r.MinRingSize > r.MaxRingSize {
		return fmt.Errorf("min_ring_size %d is above max_ring_size %d", r.MinRingSize, r.MaxRingSize)
	}
	if len(r.HashPolicies) > 0 && r.LBPolicy != LBRingHash && r.LBPolicy != LBMaglev {
		return fmt.Errorf("hash_policy: only with ring_hash or maglev")
	}
	for i, h := range r.HashPolicies {
		if n := btoi(h.Header != "") + btoi(h.Query != "") + btoi(h.Cookie != "") + btoi(h.SourceIP); n != 1 {
			return fmt.Errorf("hash_policy[%d]: exactly one of header, query, cookie, source_ip", i)
		}
	}
	if hc := r.HealthCheck; hc != nil && (hc.Interval <= 0 || hc.Timeout <= 0 || hc.HealthyThreshold < 1 || hc.UnhealthyThreshold < 1) {
		return fmt.Errorf("health_check: interval and timeout must be positive, thresholds at least 1")
	}
	if rt := r.Retry; r.Timeout < 0 || rt != nil && (rt.NumRetries < 0 || rt.PerTryTimeout < 0) {
		return fmt.Errorf("timeout and retry: must not be negative")
	}
	if o := r.Outlier; o != nil {
		return o.validate()
	}
	return nil
}

// validate checks o's values.
func (o *Outlier) validate() error {
	if o.Consecutive5xx < 0 || o.MaxEjectionPercent < 0 || o.MaxEjectionPercent > 100 ||
		o.Enforcing5xx != nil && (*o.Enforcing5xx < 0 || *o.Enforcing5xx > 100) {
		return fmt.Errorf("outlier_detection: max_ejection_percent and enforcing_consecutive_5xx must be 0-100")
	}
	return nil
}

// clone returns a copy of o sharing nothing with it; nil for nil.
func (o *Outlier) clone() *Outlier {
	if o == nil {
		return nil
	}
	c := *o
	if o.Enforcing5xx != nil {
		e := *o.Enforcing5xx
		c.Enforcing5xx = &e
	}
	return &c
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cloneResilience returns a copy of r sharing nothing with it.
func cloneResilience(r *Resilience) *Resilience {
	c := *r
	c.HashPolicies = cloneOrNil(c.HashPolicies)
	if r.HealthCheck != nil {
		hc := *r.HealthCheck
		c.HealthCheck = &hc
	}
	c.Outlier = r.Outlier.clone()
	if r.Retry != nil {
		rt := *r.Retry
		rt.On, rt.StatusCodes = cloneOrNil(rt.On), cloneOrNil(rt.StatusCodes)
		c.Retry = &rt
	}
	return &c
}
