package consul

import (
	"log/slog"
	"sort"
	"sync"
)

// ignoredProxyKeys are Proxy.Config keys Consul's Envoy integration
// honours and meshlb's control server does not, with what to do instead.
// Each is logged once per process (warnIgnoredKeys), not on every build.
var ignoredProxyKeys = map[string]string{
	"envoy_prometheus_bind_addr":        "serve Prometheus from the sidecar's admin listener (/stats/prometheus), or run the sidecar under consul connect envoy",
	"envoy_stats_bind_addr":             "read /stats on the sidecar's admin listener, or run the sidecar under consul connect envoy",
	"local_idle_timeout_ms":             "the local app route has no idle timeout of its own; the listener's stream idle timeout applies",
	"balance_inbound_connections":       "Go's runtime already spreads accepted connections over threads",
	"envoy_stats_flush_interval":        "meshlb has no stats sinks",
	"envoy_tracing_json":                "meshlb emits no spans",
	"envoy_extra_static_clusters_json":  "not read by the control server",
	"envoy_extra_static_listeners_json": "not read by the control server",
	"envoy_public_listener_json":        "not read by the control server",
	"envoy_local_cluster_json":          "not read by the control server",
	"envoy_listener_tracing_json":       "meshlb emits no spans",
}

// warnedKeys records the ignored keys already logged.
var warnedKeys sync.Map

// warnIgnoredKeys logs, once per key and process, each key of cfg (a
// proxy's resolved Proxy.Config) that meshlb ignores.
func warnIgnoredKeys(logger *slog.Logger, proxyID string, cfg map[string]any) {
	var keys []string
	for k := range cfg {
		if _, ok := ignoredProxyKeys[k]; ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, dup := warnedKeys.LoadOrStore(k, true); !dup {
			logger.Warn("ignoring Proxy.Config key", "key", k, "proxy", proxyID, "instead", ignoredProxyKeys[k])
		}
	}
}
