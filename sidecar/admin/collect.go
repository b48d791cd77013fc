package admin

import (
	"strconv"
	"strings"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stats"
)

// kind is a stat's type.
type kind uint8

const (
	counter kind = iota
	gauge
	histogram
)

func (k kind) String() string { return [...]string{"counter", "gauge", "histogram"}[k] }

// stat is one counter, gauge or histogram, under Envoy's dotted name and
// under the Prometheus family and labels Envoy's default tag extraction
// gives it.
type stat struct {
	scope   string // e.g. cluster; empty when full holds the whole name
	full    string // Envoy's name, or its last part under scope and subject
	family  string // Prometheus name, e.g. envoy_cluster_upstream_rq
	label   string // tag name, e.g. envoy_cluster_name; empty for none
	subject string // its value, e.g. web
	tag     string // a second tag, e.g. envoy_response_code; empty for none
	tagVal  string // its value, e.g. 200
	kind    kind
	value   float64
	hist    *stats.Snapshot // for histograms
	// extra are the labels of the bootstrap's stats_config tags (see
	// tagger); shared, read only.
	extra []label
	// extraText is extra in the text format, written as is when set.
	extraText string
}

// name returns Envoy's dotted name, e.g. cluster.web.upstream_rq_200.
func (s *stat) name() string {
	if s.scope == "" {
		return s.full
	}
	return s.scope + "." + s.subject + "." + s.full
}

// collector gathers the stats of one read: it caches the families' names
// so a read of many clusters concatenates each family name once.
type collector struct {
	emit     func(*stat)
	families map[[2]string]string
	cur      stat // the stat being emitted, reused so it does not escape
}

// put emits s through c.cur.
func (c *collector) put(s stat) {
	c.cur = s
	c.emit(&c.cur)
}

// family returns "envoy_<scope>_<stat>" with dots as underscores.
func (c *collector) family(scope, name string) string {
	k := [2]string{scope, name}
	f, ok := c.families[k]
	if !ok {
		f = "envoy_" + scope + "_" + strings.ReplaceAll(name, ".", "_")
		c.families[k] = f
	}
	return f
}

// scoped adds the stat scope.<subject>.<name>, tagged label=subject.
func (c *collector) scoped(scope, label, subject, name string, k kind, v float64) {
	c.put(stat{scope: scope, full: name, family: c.family(scope, name),
		label: label, subject: subject, kind: k, value: v})
}

// status adds <prefix>_<N>xx and <prefix>_<code> for s, tagged as Envoy's
// response_code_class and response_code extraction does.
func (c *collector) status(scope, label, subject, prefix string, s *stats.Status) {
	for i, n := range s.Classes() {
		class := strconv.Itoa(i + 1)
		c.put(stat{scope: scope, full: prefix + "_" + class + "xx", family: c.family(scope, prefix+"_xx"),
			label: label, subject: subject, tag: "envoy_response_code_class", tagVal: class, value: float64(n)})
	}
	s.Codes(func(code int, n uint64) {
		cs := strconv.Itoa(code)
		c.put(stat{scope: scope, full: prefix + "_" + cs, family: c.family(scope, prefix),
			label: label, subject: subject, tag: "envoy_response_code", tagVal: cs, value: float64(n)})
	})
}

// hist adds a histogram.
func (c *collector) hist(scope, label, subject, name string, h *stats.Histogram) {
	s := h.Read()
	c.put(stat{scope: scope, full: name, family: c.family(scope, name), label: label, subject: subject, kind: histogram, hist: &s})
}

// collect calls emit with every stat of the snapshot in force, in no set
// order (see sortStats). The stat is emit's only until it returns.
func collect(sc *sidecar.Sidecar, emit func(*stat)) {
	snap := sc.Snapshot()
	if snap == nil {
		return
	}
	c := &collector{families: map[[2]string]string{}, emit: emit}
	for _, name := range sortedKeys(snap.Clusters) {
		c.cluster(snap.Clusters[name])
	}
	for _, name := range sortedKeys(snap.Listeners) {
		c.listener(snap.Listeners[name])
	}
	c.namedCounters(sc)
}

// cluster adds the stats of one cluster.
func (c *collector) cluster(cl *cluster.Cluster) {
	name, s := cl.Name, cl.Stats
	ctr := func(stat string, v uint64) {
		c.scoped("cluster", "envoy_cluster_name", name, stat, counter, float64(v))
	}
	g := func(stat string, v int64) { c.scoped("cluster", "envoy_cluster_name", name, stat, gauge, float64(v)) }
	ctr("upstream_rq_total", s.RqTotal.Load())
	c.status("cluster", "envoy_cluster_name", name, "upstream_rq", &s.StatusCounts)
	ctr("upstream_rq_timeout", s.RqTimeout.Load())
	ctr("upstream_rq_retry", s.RqRetry.Load())
	ctr("upstream_rq_pending_overflow", s.OverflowRq.Load())
	ctr("upstream_rq_retry_overflow", s.RetryOverflow.Load())
	ctr("upstream_cx_total", s.CxTotal.Load())
	ctr("upstream_cx_connect_fail", s.CxConnectFail.Load())
	ctr("upstream_cx_none_healthy", s.NoHealthy.Load())
	ctr("lb_healthy_panic", s.HealthyPanic.Load())
	c.zone(ctr, &s.Zone)
	ctr("upstream_cx_overflow", s.CxOverflow.Load())
	g("upstream_cx_active", s.CxActive.Load())
	g("upstream_rq_active", s.RqActive.Load())
	g("upstream_rq_pending_active", s.RqPending.Load())
	m := membershipOf(cl)
	g("membership_healthy", m.healthy)
	g("membership_degraded", m.degraded)
	g("membership_total", m.total)
	c.breakers(cl)
	c.hist("cluster", "envoy_cluster_name", name, "upstream_rq_time", &s.RqTime)
	c.hist("cluster", "envoy_cluster_name", name, "upstream_cx_connect_ms", &s.CxConnectMs)
	if cl.HealthCheck != nil {
		c.healthCheck(cl)
	}
	if cl.Outlier != nil {
		c.outlier(cl)
	}
}

// zone adds Envoy's zone-aware routing counters of a cluster.
func (c *collector) zone(ctr func(string, uint64), z *cluster.ZoneStats) {
	ctr("lb_zone_routing_all_directly", z.RoutingAllDirectly.Load())
	ctr("lb_zone_routing_sampled", z.RoutingSampled.Load())
	ctr("lb_zone_routing_cross_zone", z.RoutingCrossZone.Load())
	ctr("lb_zone_no_capacity_left", z.NoCapacityLeft.Load())
	ctr("lb_local_cluster_not_ok", z.LocalClusterNotOK.Load())
	ctr("lb_zone_cluster_too_small", z.ClusterTooSmall.Load())
	ctr("lb_recalculate_zone_structures", z.Recalculate.Load())
}

// breakers adds Envoy's circuit_breakers.default.*_open gauges: 1 while
// the breaker is open (the resource is at its limit).
func (c *collector) breakers(cl *cluster.Cluster) {
	l, s := cl.Limits, cl.Stats
	open := func(stat string, n, limit int64) {
		var v float64
		if limit != 0 && n >= limit {
			v = 1
		}
		c.scoped("cluster", "envoy_cluster_name", cl.Name, "circuit_breakers.default."+stat, gauge, v)
	}
	open("cx_open", s.Cx.Active(), l.MaxConnections)
	open("rq_pending_open", s.RqPending.Load(), l.MaxPending)
	open("rq_open", s.RqActive.Load(), l.MaxRequests)
	open("rq_retry_open", s.RetryActive.Load(), cl.RetryLimit())
}

func (c *collector) healthCheck(cl *cluster.Cluster) {
	hc := &cl.Stats.HealthCheck
	ctr := func(stat string, v uint64) {
		c.scoped("cluster", "envoy_cluster_name", cl.Name, "health_check."+stat, counter, float64(v))
	}
	ctr("attempt", hc.Attempt.Load())
	ctr("success", hc.Success.Load())
	ctr("failure", hc.Failure.Load())
	ctr("network_failure", hc.NetworkFailure.Load())
	ctr("passive_failure", hc.PassiveFailure.Load())
	ctr("verify_cluster", hc.VerifyCluster.Load())
	c.scoped("cluster", "envoy_cluster_name", cl.Name, "health_check.healthy", gauge, float64(activeHealthy(cl)))
}

func (c *collector) outlier(cl *cluster.Cluster) {
	od := &cl.Stats.Outlier
	ctr := func(stat string, v uint64) {
		c.scoped("cluster", "envoy_cluster_name", cl.Name, "outlier_detection.ejections_"+stat, counter, float64(v))
	}
	ctr("enforced_total", od.EnforcedTotal.Load())
	ctr("overflow", od.Overflow.Load())
	ctr("detected_consecutive_5xx", od.Detected5xx.Load())
	ctr("enforced_consecutive_5xx", od.Enforced5xx.Load())
	ctr("detected_consecutive_gateway_failure", od.DetectedGateway.Load())
	ctr("enforced_consecutive_gateway_failure", od.EnforcedGateway.Load())
	ctr("detected_consecutive_local_origin_failure", od.DetectedLocal.Load())
	ctr("enforced_consecutive_local_origin_failure", od.EnforcedLocal.Load())
	ctr("detected_success_rate", od.DetectedSuccessRate.Load())
	ctr("enforced_success_rate", od.EnforcedSuccessRate.Load())
	c.scoped("cluster", "envoy_cluster_name", cl.Name, "outlier_detection.ejections_active", gauge, float64(ejectedEndpoints(cl)))
}

// membership counts a cluster's endpoints as Envoy's membership_* gauges:
// healthy ones pass every check (EDS, active, outlier), degraded ones are
// EDS-degraded but pass the others.
type membership struct{ healthy, degraded, total int64 }

func membershipOf(c *cluster.Cluster) membership {
	m := membership{total: int64(len(c.Endpoints))}
	for _, e := range c.Endpoints {
		if !e.Usable() {
			continue
		}
		if e.Health == spec.Degraded {
			m.degraded++
		} else {
			m.healthy++
		}
	}
	return m
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

// listener adds a listener's downstream_cx_* stats and those of its
// chains' connection managers.
func (c *collector) listener(l *sidecar.Listener) {
	if s := l.Stats; s != nil {
		addr := metricName(l.Spec.Address)
		lc := func(stat string, k kind, v float64) {
			c.scoped("listener", "envoy_listener_address", addr, stat, k, v)
		}
		lc("downstream_cx_total", counter, float64(s.CxTotal.Load()))
		lc("downstream_cx_destroy", counter, float64(s.CxDestroy.Load()))
		lc("downstream_cx_active", gauge, float64(s.CxActive.Load()))
		c.hist("listener", "envoy_listener_address", addr, "downstream_cx_length_ms", &s.CxLength)
	}
	for _, ch := range l.Chains {
		c.chain(ch)
	}
}

func (c *collector) chain(ch *sidecar.Chain) {
	if ch.HTTP != nil {
		s, p := ch.HTTP.Config().Stats, ch.Spec.HTTP.StatPrefix
		const label = "envoy_http_conn_manager_prefix"
		ctr := func(stat string, v uint64) { c.scoped("http", label, p, stat, counter, float64(v)) }
		ctr("downstream_cx_total", s.CxTotal.Load())
		ctr("downstream_rq_total", s.RqTotal.Load())
		c.status("http", label, p, "downstream_rq", &s.StatusCounts)
		c.scoped("http", label, p, "downstream_cx_active", gauge, float64(s.CxActive.Load()))
		c.hist("http", label, p, "downstream_rq_time", &s.RqTime)
		return
	}
	s, p := ch.TCP.Config().Stats, ch.Spec.TCP.StatPrefix
	const label = "envoy_tcp_prefix"
	c.scoped("tcp", label, p, "downstream_cx_total", counter, float64(s.CxTotal.Load()))
	c.scoped("tcp", label, p, "downstream_cx_no_route", counter, float64(s.NoRoute.Load()))
	c.scoped("tcp", label, p, "upstream_connect_fail", counter, float64(s.ConnectFail.Load()))
	c.scoped("tcp", label, p, "downstream_cx_active", gauge, float64(s.CxActive.Load()))
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
func (c *collector) namedCounters(sc *sidecar.Sidecar) {
	for name, v := range sc.Counters() {
		st, ok := filterCounter(name)
		if !ok {
			scope, rest, _ := strings.Cut(name, ".")
			st = stat{full: name, family: c.family(scope, rest)}
			if i := strings.LastIndexByte(rest, '.'); i >= 0 {
				st.label, st.subject, st.family = counterLabels[scope], rest[:i], c.family(scope, rest[i+1:])
			}
		}
		st.kind, st.value = counter, float64(v)
		c.put(st)
	}
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
	st := stat{full: name}
	if p, ok := strings.CutSuffix(head, ".http_local_rate_limit"); ok {
		st.family, st.label, st.subject = "envoy_http_local_rate_limit_"+tail, "envoy_local_http_ratelimit_prefix", p
		return st, true
	}
	if p, ok := strings.CutSuffix(head, ".fault"); ok && strings.HasPrefix(p, "http.") {
		st.family, st.label, st.subject = "envoy_http_fault_"+tail, "envoy_http_conn_manager_prefix", p[len("http."):]
		return st, true
	}
	return rbacCounter(st, head, tail)
}

// rbacCounter parses the RBAC filters' counters: the HTTP filter's
// "http.<stat_prefix>.rbac.<stat>", labelled by the connection manager's
// prefix, and the network filter's "<stat_prefix>.rbac.<stat>", which
// Envoy's default tag extractors leave in the metric name.
func rbacCounter(st stat, head, tail string) (stat, bool) {
	p, ok := strings.CutSuffix(head, ".rbac")
	switch {
	case !ok:
		return stat{}, false
	case strings.HasPrefix(p, "http."):
		st.family, st.label, st.subject = "envoy_http_rbac_"+tail, "envoy_http_conn_manager_prefix", p[len("http."):]
	default:
		st.family = "envoy_" + strings.ReplaceAll(metricName(p), ".", "_") + "_rbac_" + tail
	}
	return st, true
}
