package admin

import (
	"slices"
	"strings"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/cluster"
)

// stat is one counter or gauge.
type stat struct {
	name    string // Envoy's dotted name, e.g. cluster.web.upstream_rq_total
	scope   string // cluster, http, tcp
	label   string // Prometheus label name
	subject string // cluster name or stat prefix
	stat    string // e.g. upstream_rq_total
	kind    string // counter or gauge
	value   int64
}

func add(out []stat, scope, label, subject, name, kind string, v int64) []stat {
	return append(out, stat{
		name: scope + "." + metricName(subject) + "." + name, scope: scope, label: label,
		subject: subject, stat: name, kind: kind, value: v,
	})
}

// collect reads every counter of the snapshot in force, sorted by name.
func collect(sc *sidecar.Sidecar) []stat {
	snap := sc.Snapshot()
	if snap == nil {
		return nil
	}
	var out []stat
	for _, name := range sortedKeys(snap.Clusters) {
		s := snap.Clusters[name].Stats
		c := func(stat string, v uint64) {
			out = add(out, "cluster", "envoy_cluster_name", name, stat, "counter", int64(v))
		}
		g := func(stat string, v int64) { out = add(out, "cluster", "envoy_cluster_name", name, stat, "gauge", v) }
		c("upstream_rq_total", s.RqTotal.Load())
		c("upstream_rq_2xx", s.Rq2xx.Load())
		c("upstream_rq_3xx", s.Rq3xx.Load())
		c("upstream_rq_4xx", s.Rq4xx.Load())
		c("upstream_rq_5xx", s.Rq5xx.Load())
		c("upstream_rq_timeout", s.RqTimeout.Load())
		c("upstream_rq_retry", s.RqRetry.Load())
		c("upstream_rq_pending_overflow", s.OverflowRq.Load())
		c("upstream_cx_total", s.CxTotal.Load())
		c("upstream_cx_connect_fail", s.CxConnectFail.Load())
		c("upstream_cx_none_healthy", s.NoHealthy.Load())
		c("upstream_cx_overflow", s.CxOverflow.Load())
		c("upstream_rq_retry_overflow", s.RetryOverflow.Load())
		g("upstream_cx_active", s.CxActive.Load())
		g("upstream_rq_active", s.RqActive.Load())
		g("upstream_rq_pending_active", s.RqPending.Load())
		if cl := snap.Clusters[name]; cl.HealthCheck != nil {
			hc := &s.HealthCheck
			c("health_check.attempt", hc.Attempt.Load())
			c("health_check.success", hc.Success.Load())
			c("health_check.failure", hc.Failure.Load())
			c("health_check.network_failure", hc.NetworkFailure.Load())
			c("health_check.passive_failure", hc.PassiveFailure.Load())
			c("health_check.verify_cluster", hc.VerifyCluster.Load())
			g("health_check.healthy", activeHealthy(cl))
		}
		if cl := snap.Clusters[name]; cl.Outlier != nil {
			od := &s.Outlier
			c("outlier_detection.ejections_enforced_total", od.EnforcedTotal.Load())
			c("outlier_detection.ejections_overflow", od.Overflow.Load())
			c("outlier_detection.ejections_detected_consecutive_5xx", od.Detected5xx.Load())
			c("outlier_detection.ejections_enforced_consecutive_5xx", od.Enforced5xx.Load())
			c("outlier_detection.ejections_detected_consecutive_gateway_failure", od.DetectedGateway.Load())
			c("outlier_detection.ejections_enforced_consecutive_gateway_failure", od.EnforcedGateway.Load())
			c("outlier_detection.ejections_detected_consecutive_local_origin_failure", od.DetectedLocal.Load())
			c("outlier_detection.ejections_enforced_consecutive_local_origin_failure", od.EnforcedLocal.Load())
			c("outlier_detection.ejections_detected_success_rate", od.DetectedSuccessRate.Load())
			c("outlier_detection.ejections_enforced_success_rate", od.EnforcedSuccessRate.Load())
			g("outlier_detection.ejections_active", ejectedEndpoints(cl))
		}
	}
	for _, l := range snap.Listeners {
		out = listenerStats(out, l)
	}
	out = namedCounters(out, sc)
	slices.SortFunc(out, func(a, b stat) int {
		if a.name < b.name {
			return -1
		}
		if a.name > b.name {
			return 1
		}
		return 0
	})
	return slices.CompactFunc(out, func(a, b stat) bool { return a.name == b.name })
}

// activeHealthy counts the endpoints of c that pass their active health
// check (Envoy's health_check.healthy gauge).
func activeHealthy(c *cluster.Cluster) int64 {
	var n int64
	for _, e := range c.Endpoints {
		if e.Active != nil && !e.Active.Failed() {
			n++
		}
	}
	return n
}

// ejectedEndpoints counts the endpoints of c ejected by outlier detection
// (Envoy's outlier_detection.ejections_active gauge).
func ejectedEndpoints(c *cluster.Cluster) int64 {
	var n int64
	for _, e := range c.Endpoints {
		if e.Outlier != nil && e.Outlier.Ejected() {
			n++
		}
	}
	return n
}

func listenerStats(out []stat, l *sidecar.Listener) []stat {
	for _, ch := range l.Chains {
		out = chainStats(out, ch)
	}
	return out
}

func chainStats(out []stat, ch *sidecar.Chain) []stat {
	if ch.HTTP != nil {
		cfg := ch.HTTP.Config()
		s, p := cfg.Stats, ch.Spec.HTTP.StatPrefix
		c := func(stat string, v uint64) {
			out = add(out, "http", "envoy_http_conn_manager_prefix", p, stat, "counter", int64(v))
		}
		c("downstream_cx_total", s.CxTotal.Load())
		c("downstream_rq_total", s.RqTotal.Load())
		c("downstream_rq_2xx", s.Rq2xx.Load())
		c("downstream_rq_3xx", s.Rq3xx.Load())
		c("downstream_rq_4xx", s.Rq4xx.Load())
		c("downstream_rq_5xx", s.Rq5xx.Load())
		out = add(out, "http", "envoy_http_conn_manager_prefix", p, "downstream_cx_active", "gauge", s.CxActive.Load())
		return out
	}
	s, p := ch.TCP.Config().Stats, ch.Spec.TCP.StatPrefix
	out = add(out, "tcp", "envoy_tcp_prefix", p, "downstream_cx_total", "counter", int64(s.CxTotal.Load()))
	out = add(out, "tcp", "envoy_tcp_prefix", p, "downstream_cx_no_route", "counter", int64(s.NoRoute.Load()))
	out = add(out, "tcp", "envoy_tcp_prefix", p, "upstream_connect_fail", "counter", int64(s.ConnectFail.Load()))
	return add(out, "tcp", "envoy_tcp_prefix", p, "downstream_cx_active", "gauge", s.CxActive.Load())
}

// counterLabels are the Prometheus labels of the sidecar's named counters
// by scope (their name's first part).
var counterLabels = map[string]string{
	"listener":        "envoy_listener_address",
	"local_ratelimit": "envoy_local_ratelimit_prefix",
}

// namedCounters adds the sidecar's counters kept by full name
// ("scope.subject.stat", or "scope.stat" without a label), such as
// local_ratelimit.<prefix>.rate_limited and tls_inspector.tls_found.
func namedCounters(out []stat, sc *sidecar.Sidecar) []stat {
	for name, v := range sc.Counters() {
		if st, ok := filterCounter(name); ok {
			st.value = int64(v)
			out = append(out, st)
			continue
		}
		scope, rest, _ := strings.Cut(name, ".")
		st := stat{name: name, scope: scope, stat: rest, kind: "counter", value: int64(v)}
		if i := strings.LastIndexByte(rest, '.'); i >= 0 {
			st.label, st.subject, st.stat = counterLabels[scope], rest[:i], rest[i+1:]
		}
		out = append(out, st)
	}
	return out
}

// filterCounter parses the counters of the HTTP filters, whose subject is
// not their name's second part: Envoy's
// "<stat_prefix>.http_local_rate_limit.<stat>",
// "http.<stat_prefix>.fault.<stat>" and the RBAC filters'.
func filterCounter(name string) (stat, bool) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return stat{}, false
	}
	head, tail := name[:i], name[i+1:]
	st := stat{name: name, stat: tail, kind: "counter"}
	if p, ok := strings.CutSuffix(head, ".http_local_rate_limit"); ok {
		st.scope, st.label, st.subject = "http_local_rate_limit", "envoy_local_http_ratelimit_prefix", p
		return st, true
	}
	if p, ok := strings.CutSuffix(head, ".fault"); ok && strings.HasPrefix(p, "http.") {
		st.scope, st.label, st.subject = "http_fault", "envoy_http_conn_manager_prefix", p[len("http."):]
		return st, true
	}
	return rbacCounter(st, head)
}

// rbacCounter parses the RBAC filters' counters: the HTTP filter's
// "http.<stat_prefix>.rbac.<stat>", labelled by the connection manager's
// prefix, and the network filter's "<stat_prefix>.rbac.<stat>", which
// Envoy's default tag extractors leave in the metric name.
func rbacCounter(st stat, head string) (stat, bool) {
	p, ok := strings.CutSuffix(head, ".rbac")
	switch {
	case !ok:
		return stat{}, false
	case strings.HasPrefix(p, "http."):
		st.scope, st.label, st.subject = "http_rbac", "envoy_http_conn_manager_prefix", p[len("http."):]
	default:
		st.scope = strings.ReplaceAll(metricName(p), ".", "_") + "_rbac"
	}
	return st, true
}
