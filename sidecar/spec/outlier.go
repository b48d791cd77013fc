package spec

import "time"

// OutlierDetection is a cluster's passive health checking (Envoy's
// cluster.v3.OutlierDetection) by its consecutive-failure detectors.
// Decoders fill Envoy's defaults. Percentages are 0..100.
type OutlierDetection struct {
	// Consecutive5xx ejects an endpoint after that many 5xx responses in
	// a row (and, unless SplitLocalOrigin, connect failures, resets and
	// timeouts), enforced EnforcingConsecutive5xx percent of the time.
	Consecutive5xx, EnforcingConsecutive5xx uint32
	// ConsecutiveGatewayFailure counts 502, 503 and 504 (and, unless
	// SplitLocalOrigin, connect failures, resets and timeouts).
	ConsecutiveGatewayFailure, EnforcingConsecutiveGatewayFailure uint32
	// ConsecutiveLocalOriginFailure counts connect failures, resets and
	// timeouts; it only runs with SplitLocalOrigin.
	ConsecutiveLocalOriginFailure, EnforcingConsecutiveLocalOriginFailure uint32
	// SplitLocalOrigin is split_external_local_origin_errors.
	SplitLocalOrigin bool
	// Interval is how often ejections are reviewed (and expire).
	Interval time.Duration
	// BaseEjectionTime times the number of ejections, capped by
	// MaxEjectionTime, is how long an endpoint stays ejected.
	BaseEjectionTime, MaxEjectionTime time.Duration
	// SuccessRate ejects, every Interval, the endpoints whose success
	// rate over the interval is below mean - stdev × StdevFactor/1000 of
	// the endpoints that had at least RequestVolume requests, when there
	// are at least MinimumHosts of those; enforced EnforcingSuccessRate
	// percent of the time.
	SuccessRateMinimumHosts, SuccessRateRequestVolume, SuccessRateStdevFactor, EnforcingSuccessRate uint32
	// MaxEjectionPercent stops ejections while that share of the
	// cluster's endpoints (or more) is ejected.
	MaxEjectionPercent uint32
}
