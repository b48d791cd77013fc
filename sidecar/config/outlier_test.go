package config

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/spec"
)

func TestDecodeOutlier(t *testing.T) {
	defaults := spec.OutlierDetection{
		Consecutive5xx: 5, EnforcingConsecutive5xx: 100,
		ConsecutiveGatewayFailure: 5, EnforcingConsecutiveGatewayFailure: 0,
		ConsecutiveLocalOriginFailure: 5, EnforcingConsecutiveLocalOriginFailure: 100,
		Interval: 10 * time.Second, BaseEjectionTime: 30 * time.Second, MaxEjectionTime: 300 * time.Second,
		MaxEjectionPercent:      10,
		SuccessRateMinimumHosts: 5, SuccessRateRequestVolume: 100, SuccessRateStdevFactor: 1900, EnforcingSuccessRate: 100,
	}
	every := spec.OutlierDetection{
		Consecutive5xx: 3, EnforcingConsecutive5xx: 50,
		ConsecutiveGatewayFailure: 2, EnforcingConsecutiveGatewayFailure: 100,
		ConsecutiveLocalOriginFailure: 4, EnforcingConsecutiveLocalOriginFailure: 0,
		SplitLocalOrigin: true,
		Interval:         time.Second, BaseEjectionTime: 2 * time.Second, MaxEjectionTime: 8 * time.Second,
		MaxEjectionPercent:      100,
		SuccessRateMinimumHosts: 3, SuccessRateRequestVolume: 10, SuccessRateStdevFactor: 1000, EnforcingSuccessRate: 0,
	}
	tests := []struct {
		name string
		yaml string
		want *spec.OutlierDetection
	}{
		{"unset", "{name: be}", nil},
		{"empty means Envoy's defaults (Consul)", "{name: be, outlier_detection: {}}", &defaults},
		{"every field", `{name: be, outlier_detection: {consecutive_5xx: 3, enforcing_consecutive_5xx: 50,
consecutive_gateway_failure: 2, enforcing_consecutive_gateway_failure: 100, consecutive_local_origin_failure: 4,
enforcing_consecutive_local_origin_failure: 0, split_external_local_origin_errors: true, interval: 1s,
base_ejection_time: 2s, max_ejection_time: 8s, max_ejection_percent: 100, success_rate_minimum_hosts: 3,
success_rate_request_volume: 10, success_rate_stdev_factor: 1000, enforcing_success_rate: 0}}`, &every},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := DecodeCluster(fromYAML(t, tt.yaml, &clusterv3.Cluster{}))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, c.Outlier); diff != "" {
				t.Errorf("Outlier (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeOutlierErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"local-origin success rate is not run", "{enforcing_local_origin_success_rate: 50}",
			`cluster "be": outlier_detection.enforcing_local_origin_success_rate: not supported`},
		{"failure percentage is not run", "{enforcing_failure_percentage: 100}",
			`cluster "be": outlier_detection.enforcing_failure_percentage: not supported`},
		{"max below base", "{base_ejection_time: 10s, max_ejection_time: 5s}",
			`cluster "be": outlier_detection.max_ejection_time: must not be less than base_ejection_time`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeCluster(fromYAML(t, "{name: be, outlier_detection: "+tt.yaml+"}", &clusterv3.Cluster{}))
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %s", err, tt.want)
			}
		})
	}
}
