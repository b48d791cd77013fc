package config

import (
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	previoushostsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	previousprioritiesv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/priority/previous_priorities/v3"

	"github.com/meshlb/meshlb/internal/retryon"
)

// Envoy's defaults: the route timeout, and the largest direct response
// body (route_config max_direct_response_body_size_bytes).
const (
	defaultRouteTimeout   = 15 * time.Second
	maxDirectResponseBody = 4096
)

var (
	routeActionFields = allow(&routev3.RouteAction{},
		"cluster", "weighted_clusters", "timeout", "idle_timeout", "prefix_rewrite", "host_rewrite_literal", "retry_policy",
		"hash_policy", "max_stream_duration", "regex_rewrite", "host_rewrite_header", "upgrade_configs")
	routeUpgradeFields  = allow(&routev3.RouteAction_UpgradeConfig{}, "upgrade_type", "enabled")
	weightedFields      = allow(&routev3.WeightedCluster{}, "clusters", "total_weight")
	clusterWeightFields = allow(&routev3.WeightedCluster_ClusterWeight{}, "name", "weight")
	retryFields         = allow(&routev3.RetryPolicy{}, "retry_on", "num_retries", "per_try_timeout",
		"retry_host_predicate", "host_selection_retry_max_attempts", "retriable_status_codes",
		"retry_priority")
	hostPredicateFields    = allow(&routev3.RetryPolicy_RetryHostPredicate{}, "name", "typed_config")
	previousHostsType      = typeURL(&previoushostsv3.PreviousHostsPredicate{})
	retryPriorityFields    = allow(&routev3.RetryPolicy_RetryPriority{}, "name", "typed_config")
	previousPrioritiesType = typeURL(&previousprioritiesv3.PreviousPrioritiesConfig{})
	redirectFields         = allow(&routev3.RedirectAction{},
		"https_redirect", "scheme_redirect", "host_redirect", "path_redirect", "response_code", "strip_query")
	directFields     = allow(&routev3.DirectResponseAction{}, "status", "body")
	dataSourceFields = allow(&corev3.DataSource{}, "inline_string", "inline_bytes")
)

var redirectCodes = map[routev3.RedirectAction_RedirectResponseCode]int{
	routev3.RedirectAction_MOVED_PERMANENTLY:  301,
	routev3.RedirectAction_FOUND:              302,
	routev3.RedirectAction_SEE_OTHER:          303,
	routev3.RedirectAction_TEMPORARY_REDIRECT: 307,
	routev3.RedirectAction_PERMANENT_REDIRECT: 308,
}

// decodeAction decodes a route's forwarding action.
func decodeAction(a *routev3.RouteAction) (*RouteAction, error) {
	if err := routeActionFields.check(a); err != nil {
		return nil, err
	}
	timeout, err := durationOr(a.GetTimeout(), defaultRouteTimeout)
	if err != nil {
		return nil, within("timeout", err)
	}
	out := &RouteAction{Cluster: a.GetCluster(), Timeout: timeout,
		PrefixRewrite: a.GetPrefixRewrite(), HostRewrite: a.GetHostRewriteLiteral()}
	if d := a.GetIdleTimeout(); d != nil {
		idle, err := durationOr(d, 0)
		if err != nil {
			return nil, within("idle_timeout", err)
		}
		out.IdleTimeout = &idle
	}
	if err := decodeRewrites(a, out); err != nil {
		return nil, err
	}
	if wc := a.GetWeightedClusters(); wc != nil {
		if out.Weighted, err = decodeWeighted(wc); err != nil {
			return nil, within("weighted_clusters", err)
		}
	} else if out.Cluster == "" {
		return nil, errorf("cluster", "must not be empty")
	}
	if out.HashPolicy, err = decodeHashPolicies(a.GetHashPolicy()); err != nil {
		return nil, err
	}
	if rp := a.GetRetryPolicy(); rp != nil {
		if out.Retry, err = decodeRetry(rp); err != nil {
			return nil, within("retry_policy", err)
		}
	}
	if out.GRPCTimeout, err = decodeStreamDuration(a.GetMaxStreamDuration()); err != nil {
		return nil, within("max_stream_duration", err)
	}
	for i, u := range a.GetUpgradeConfigs() {
		path := index("upgrade_configs", i)
		if err := routeUpgradeFields.check(u); err != nil {
			return nil, within(path, err)
		}
		up, err := decodeUpgrade(u.GetUpgradeType(), u.GetEnabled())
		if err != nil {
			return nil, within(path, err)
		}
		out.Upgrades = append(out.Upgrades, up)
	}
	return out, nil
}

// decodeWeighted decodes a weighted split. A missing weight is 0; the
// deprecated total_weight, when set, must equal the sum.
func decodeWeighted(wc *routev3.WeightedCluster) ([]WeightedCluster, error) {
	if err := weightedFields.check(wc); err != nil {
		return nil, err
	}
	var out []WeightedCluster
	var sum uint64
	for i, c := range wc.GetClusters() {
		if err := clusterWeightFields.check(c); err != nil {
			return nil, within(index("clusters", i), err)
		}
		out = append(out, WeightedCluster{Name: c.GetName(), Weight: c.GetWeight().GetValue()})
		sum += uint64(c.GetWeight().GetValue())
	}
	if err := checkWeights(out); err != nil {
		return nil, within("clusters", err)
	}
	if tw := wc.GetTotalWeight(); tw != nil && uint64(tw.GetValue()) != sum {
		return nil, errorf("total_weight", "is %d but the weights sum to %d", tw.GetValue(), sum)
	}
	return out, nil
}

// decodeRetry decodes a retry policy; num_retries defaults to 1.
func decodeRetry(p *routev3.RetryPolicy) (*RetryPolicy, error) {
	if err := retryFields.check(p); err != nil {
		return nil, err
	}
	out := &RetryPolicy{NumRetries: 1}
	on, err := retryon.Parse(p.GetRetryOn())
	if err != nil {
		return nil, within("retry_on", err)
	}
	out.On = on
	if n := p.GetNumRetries(); n != nil {
		out.NumRetries = int(n.GetValue())
	}
	for i, c := range p.GetRetriableStatusCodes() {
		if c < 100 || c > 599 {
			return nil, errorf(index("retriable_status_codes", i), "%d is not an HTTP status", c)
		}
		out.RetriableStatusCodes = append(out.RetriableStatusCodes, int(c))
	}
	if out.PerTry, err = durationOr(p.GetPerTryTimeout(), 0); err != nil {
		return nil, within("per_try_timeout", err)
	}
	if err := decodeHostPredicates(p, out); err != nil {
		return nil, err
	}
	if rp := p.GetRetryPriority(); rp != nil {
		if out.PreviousPriorities, err = decodeRetryPriority(rp); err != nil {
			return nil, within("retry_priority", err)
		}
	}
	return out, nil
}

// decodeRetryPriority accepts Envoy's previous_priorities retry priority
// (by its typed_config type) and returns its update_frequency.
func decodeRetryPriority(rp *routev3.RetryPolicy_RetryPriority) (uint32, error) {
	if err := retryPriorityFields.check(rp); err != nil {
		return 0, err
	}
	tc := rp.GetTypedConfig()
	if tc.GetTypeUrl() != previousPrioritiesType {
		return 0, errorf("typed_config", "unsupported retry priority %q: only %q is supported", tc.GetTypeUrl(), previousPrioritiesType)
	}
	var c previousprioritiesv3.PreviousPrioritiesConfig
	if err := unpack(tc, &c); err != nil {
		return 0, within("typed_config", err)
	}
	return uint32(c.GetUpdateFrequency()), nil
}

// decodeHostPredicates accepts Envoy's previous_hosts retry host predicate
// (by its typed_config type) and host_selection_retry_max_attempts, which
// Envoy defaults to 1 extra selection.
func decodeHostPredicates(p *routev3.RetryPolicy, out *RetryPolicy) error {
	for i, hp := range p.GetRetryHostPredicate() {
		path := index("retry_host_predicate", i)
		if err := hostPredicateFields.check(hp); err != nil {
			return within(path, err)
		}
		tc := hp.GetTypedConfig()
		if tc.GetTypeUrl() != previousHostsType {
			return errorf(path+".typed_config", "unsupported retry host predicate %q: only %q is supported", tc.GetTypeUrl(), previousHostsType)
		}
		if err := unpack(tc, &previoushostsv3.PreviousHostsPredicate{}); err != nil {
			return within(path+".typed_config", err)
		}
		out.PreviousHosts = true
	}
	if !out.PreviousHosts {
		return nil
	}
	out.HostSelectionAttempts = 1
	if n := p.GetHostSelectionRetryMaxAttempts(); n > 0 {
		out.HostSelectionAttempts = int(min(n, 64))
	}
	return nil
}

// decodeRedirect decodes a redirect; https_redirect sets Scheme "https".
func decodeRedirect(r *routev3.RedirectAction) (*Redirect, error) {
	if err := redirectFields.check(r); err != nil {
		return nil, err
	}
	status, ok := redirectCodes[r.GetResponseCode()]
	if !ok {
		return nil, errorf("response_code", "%s is not supported", r.GetResponseCode())
	}
	out := &Redirect{Status: status, Scheme: r.GetSchemeRedirect(), Host: r.GetHostRedirect(),
		Path: r.GetPathRedirect(), StripQuery: r.GetStripQuery()}
	if r.GetHttpsRedirect() {
		out.Scheme = "https"
	}
	return out, nil
}

// decodeDirect decodes a direct response; its body is inline and at most
// 4 KiB, as Envoy's default limit.
func decodeDirect(d *routev3.DirectResponseAction) (*DirectResponse, error) {
	if err := directFields.check(d); err != nil {
		return nil, err
	}
	ds := d.GetBody()
	if err := dataSourceFields.check(ds); err != nil {
		return nil, within("body", err)
	}
	body := ds.GetInlineString()
	if b := ds.GetInlineBytes(); b != nil {
		body = string(b)
	}
	if len(body) > maxDirectResponseBody {
		return nil, errorf("body", "%d bytes is over the %d-byte limit", len(body), maxDirectResponseBody)
	}
	return &DirectResponse{Status: int(d.GetStatus()), Body: body}, nil
}
