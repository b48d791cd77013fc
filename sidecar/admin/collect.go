package admin

import (
	"strconv"

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

// stat is one counter, gauge or histogram, under Envoy's dotted name
// (scope.subject.full, or full alone) and, once tagged (see tagger), under
// the Prometheus family and labels Envoy's tag extraction gives it.
type stat struct {
	scope   string // e.g. cluster; empty when full holds the whole name
	subject string // e.g. the cluster's name
	full    string // Envoy's name, or its last part under scope and subject
	kind    kind
	value   float64
	hist    *stats.Snapshot // for histograms
	// family is the Prometheus name, e.g. envoy_cluster_upstream_rq.
	family string
	// tags are the labels, e.g. envoy_cluster_name="web"; shared, read
	// only.
	tags *tagSet
}

// name returns Envoy's dotted name, e.g. cluster.web.upstream_rq_200.
func (s *stat) name() string {
	if s.scope == "" {
		return s.full
	}
	return s.scope + "." + s.subject + "." + s.full
}

// collector gathers the stats of one read.
type collector struct {
	emit func(*stat)
	cur  stat // the stat being emitted, reused so it does not escape
}

// put emits s through c.cur.
func (c *collector) put(s stat) {
	c.cur = s
	c.emit(&c.cur)
}

// scoped adds the stat scope.<subject>.<name>.
func (c *collector) scoped(scope, subject, name string, k kind, v float64) {
	c.put(stat{scope: scope, subject: subject, full: name, kind: k, value: v})
}

// status adds <prefix>_<N>xx and <prefix>_<code> for s.
func (c *collector) status(scope, subject, prefix string, s *stats.Status) {
	for i, n := range s.Classes() {
		c.scoped(scope, subject, classNames[prefix][i], counter, float64(n))
	}
	s.Codes(func(code int, n uint64) {
		c.scoped(scope, subject, prefix+"_"+strconv.Itoa(code), counter, float64(n))
	})
}

// classNames are the names of the class counters of each status prefix.
var classNames = map[string][5]string{
	"upstream_rq":   {"upstream_rq_1xx", "upstream_rq_2xx", "upstream_rq_3xx", "upstream_rq_4xx", "upstream_rq_5xx"},
	"downstream_rq": {"downstream_rq_1xx", "downstream_rq_2xx", "downstream_rq_3xx", "downstream_rq_4xx", "downstream_rq_5xx"},
}

// hist adds a histogram.
func (c *collector) hist(scope, subject, name string, h *stats.Histogram) {
	s := h.Read()
	c.put(stat{scope: scope, subject: subject, full: name, kind: histogram, hist: &s})
}

// collect calls emit with every stat of the snapshot in force, in no set
// order (see sortStats). The stat is emit's only until it returns.
func collect(sc *sidecar.Sidecar, emit func(*stat)) {
	snap := sc.Snapshot()
	if snap == nil {
		return
	}
	c := &collector{emit: emit}
	for _, name := range sortedKeys(snap.Clusters) {
		c.cluster(snap.Clusters[name])
	}
	for _, name := range sortedKeys(snap.Listeners) {
		c.listener(snap.Listeners[name])
	}
	c.namedCounters(sc)
	c.namedHistograms(sc)
}

// cluster adds the stats of one cluster.
func (c *collector) cluster(cl *cluster.Cluster) {
	name, s := cl.Name, cl.Stats
	ctr := func(stat string, v uint64) {
		c.scoped("cluster", name, stat, counter, float64(v))
	}
	g := func(stat string, v int64) { c.scoped("cluster", name, stat, gauge, float64(v)) }
	ctr("upstream_rq_total", s.RqTotal.Load())
	c.status("cluster", name, "upstream_rq", &s.StatusCounts)
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
	c.hist("cluster", name, "upstream_rq_time", &s.RqTime)
	c.hist("cluster", name, "upstream_cx_connect_ms", &s.CxConnectMs)
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
		c.scoped("cluster", cl.Name, "circuit_breakers.default."+stat, gauge, v)
	}
	open("cx_open", s.Cx.Active(), l.MaxConnections)
	open("rq_pending_open", s.RqPending.Load(), l.MaxPending)
	open("rq_open", s.RqActive.Load(), l.MaxRequests)
	open("rq_retry_open", s.RetryActive.Load(), cl.RetryLimit())
}

func (c *collector) healthCheck(cl *cluster.Cluster) {
	hc := &cl.Stats.HealthCheck
	ctr := func(stat string, v uint64) {
		c.scoped("cluster", cl.Name, "health_check."+stat, counter, float64(v))
	}
	ctr("attempt", hc.Attempt.Load())
	ctr("success", hc.Success.Load())
	ctr("failure", hc.Failure.Load())
	ctr("network_failure", hc.NetworkFailure.Load())
	ctr("passive_failure", hc.PassiveFailure.Load())
	ctr("verify_cluster", hc.VerifyCluster.Load())
	c.scoped("cluster", cl.Name, "health_check.healthy", gauge, float64(activeHealthy(cl)))
}

func (c *collector) outlier(cl *cluster.Cluster) {
	od := &cl.Stats.Outlier
	ctr := func(stat string, v uint64) {
		c.scoped("cluster", cl.Name, "outlier_detection.ejections_"+stat, counter, float64(v))
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
	c.scoped("cluster", cl.Name, "outlier_detection.ejections_active", gauge, float64(ejectedEndpoints(cl)))
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
			c.scoped("listener", addr, stat, k, v)
		}
		lc("downstream_cx_total", counter, float64(s.CxTotal.Load()))
		lc("downstream_cx_destroy", counter, float64(s.CxDestroy.Load()))
		lc("downstream_cx_active", gauge, float64(s.CxActive.Load()))
		c.hist("listener", addr, "downstream_cx_length_ms", &s.CxLength)
	}
	for _, ch := range l.Chains {
		c.chain(ch)
	}
}

func (c *collector) chain(ch *sidecar.Chain) {
	if ch.HTTP != nil {
		s, p := ch.HTTP.Config().Stats, ch.Spec.HTTP.StatPrefix
		ctr := func(stat string, v uint64) { c.scoped("http", p, stat, counter, float64(v)) }
		ctr("downstream_cx_total", s.CxTotal.Load())
		ctr("downstream_rq_total", s.RqTotal.Load())
		c.status("http", p, "downstream_rq", &s.StatusCounts)
		c.scoped("http", p, "downstream_cx_active", gauge, float64(s.CxActive.Load()))
		c.hist("http", p, "downstream_rq_time", &s.RqTime)
		return
	}
	s, p := ch.TCP.Config().Stats, ch.Spec.TCP.StatPrefix
	c.scoped("tcp", p, "downstream_cx_total", counter, float64(s.CxTotal.Load()))
	c.scoped("tcp", p, "downstream_cx_no_route", counter, float64(s.NoRoute.Load()))
	c.scoped("tcp", p, "upstream_connect_fail", counter, float64(s.ConnectFail.Load()))
	c.scoped("tcp", p, "downstream_cx_active", gauge, float64(s.CxActive.Load()))
}

// namedCounters adds the sidecar's counters kept by full name, such as
// local_ratelimit.<prefix>.rate_limited, <prefix>.http_local_rate_limit.*
// and tls_inspector.tls_found; tag extraction labels them as Envoy's.
func (c *collector) namedCounters(sc *sidecar.Sidecar) {
	for name, v := range sc.Counters() {
		c.put(stat{full: name, kind: counter, value: float64(v)})
	}
}

// namedHistograms adds the sidecar's histograms kept by full name, such
// as grpc_stats' cluster.<name>.grpc.<service>.<method>.upstream_rq_time.
func (c *collector) namedHistograms(sc *sidecar.Sidecar) {
	for name, h := range sc.Histograms() {
		c.put(stat{full: name, kind: histogram, hist: &h})
	}
}
