package admin

import (
	"runtime/metrics"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/stats"
)

// collect returns every stat (see each).
func (a *admin) collect() []stat {
	var out []stat
	a.each(func(s *stat) { out = append(out, *s) })
	return out
}

// each calls emit with every stat: the sidecar's and the server's
// (server.live, server.uptime, server.memory_allocated and, with a control
// plane, control_plane.connected_state).
func (a *admin) each(emit func(*stat)) {
	emit, done := a.tags.tagged(emit)
	defer done()
	collect(a.sc, emit)
	g := func(name string, v float64) { emit(&stat{full: name, kind: gauge, value: v}) }
	var live float64
	if a.state() == "LIVE" {
		live = 1
	}
	g("server.live", live)
	g("server.uptime", float64(int64(time.Since(a.start).Seconds())))
	g("server.memory_allocated", float64(heapAllocated()))
	if a.cp != nil {
		var v float64
		if _, ok := a.cp.ControlPlane(); ok {
			v = 1
		}
		g("control_plane.connected_state", v)
	}
}

// heapAllocated is the bytes of live and unswept heap objects, as
// Envoy's server.memory_allocated reports the allocator's in-use bytes.
// It reads runtime/metrics, which does not stop the world.
func heapAllocated() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// sortStats sorts by Envoy name, as /stats lists them, and returns the
// names.
func sortStats(s []stat) []string {
	type named struct {
		name string
		i    int
	}
	ns := make([]named, len(s))
	for i := range s {
		ns[i] = named{s[i].name(), i}
	}
	slices.SortFunc(ns, func(x, y named) int { return strings.Compare(x.name, y.name) })
	sorted, names := make([]stat, len(s)), make([]string, len(s))
	for i, n := range ns {
		sorted[i], names[i] = s[n.i], n.name
	}
	copy(s, sorted)
	return names
}

// Collector is a [prometheus.Collector] over the sidecar's atomics: a
// scrape reads them, the request path never touches the Prometheus
// client. It is unchecked (Describe sends nothing), as the set of
// clusters and listeners changes with the configuration. Safe for
// concurrent use.
type Collector struct{ a *admin }

var _ prometheus.Collector = Collector{}

// NewCollector returns the collector of sc's stats, for a program that
// serves them from its own Prometheus registry.
func NewCollector(sc *sidecar.Sidecar, opts ...Option) Collector {
	return Collector{newAdmin(sc, opts)}
}

// Describe sends nothing: the collector is unchecked.
func (Collector) Describe(chan<- *prometheus.Desc) {}

// Collect sends every stat as a constant metric, with the names and labels
// of Envoy's tag extraction: envoy_cluster_upstream_rq{envoy_cluster_name="web",
// envoy_response_code="200"}. Each series has only the labels extracted
// from its name, so the series of one family may differ in labels, which
// client_golang allows of an unchecked collector.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	descs := map[descKey]*prometheus.Desc{}
	c.a.each(func(s *stat) { ch <- constMetric(descs, s) })
}

// descKey is a family and the label names of one of its label sets.
type descKey struct {
	family string
	names  string
}

// constMetric makes s a constant metric.
func constMetric(descs map[descKey]*prometheus.Desc, s *stat) prometheus.Metric {
	names := make([]string, len(s.tags.labels))
	values := make([]string, len(s.tags.labels))
	for i, l := range s.tags.labels {
		names[i], values[i] = l.name, l.value
	}
	k := descKey{s.family, strings.Join(names, ",")}
	d := descs[k]
	if d == nil {
		d = prometheus.NewDesc(s.family, "Envoy stat "+s.family, names, nil)
		descs[k] = d
	}
	switch s.kind {
	case counter:
		return prometheus.MustNewConstMetric(d, prometheus.CounterValue, s.value, values...)
	case gauge:
		return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, s.value, values...)
	}
	buckets := make(map[float64]uint64, len(stats.Bounds))
	for i, b := range stats.Bounds {
		buckets[b] = s.hist.Cumulative[i]
	}
	return prometheus.MustNewConstHistogram(d, s.hist.Count, s.hist.SumMs, buckets, values...)
}
