package server

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the control server's xDS stats. Names follow Prometheus
// conventions under the meshlb_control_ prefix.
type metrics struct {
	streams      *prometheus.GaugeVec   // open streams by kind (sotw, delta)
	responses    *prometheus.CounterVec // responses sent by type
	pushLatency  prometheus.Histogram   // catalog applied → response sent
	buildSeconds prometheus.Histogram   // Update: translate and publish
	updates      prometheus.Counter     // catalogs applied
	translated   prometheus.Counter     // node translations
	published    prometheus.Counter     // snapshots published
	fragments    prometheus.Gauge       // shared resources cached
	built        prometheus.Counter     // shared resources built
	errors       prometheus.Counter     // nodes whose translation failed
	nacks        *prometheus.CounterVec // NACKs by type
	pending      pushTracker
}

func newMetrics() *metrics {
	const ns = "meshlb_control"
	return &metrics{
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "xds_streams",
			Help: "Open xDS streams, by kind (sotw or delta)."}, []string{"kind"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "xds_responses_total",
			Help: "xDS responses sent, by resource type."}, []string{"type"}),
		pushLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "xds_push_seconds",
			Help:    "Time from the start of applying a catalog to each response that carries a change it made to a connected node.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		buildSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "snapshot_build_seconds",
			Help:    "Time to apply one catalog: translate the nodes it changed and publish their snapshots.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		updates: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "catalog_updates_total",
			Help: "Catalogs applied."}),
		translated: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "node_translations_total",
			Help: "Node snapshots translated (nodes whose catalog inputs changed)."}),
		published: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "snapshots_published_total",
			Help: "Node snapshots published with a new version."}),
		fragments: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "shared_resources",
			Help: "Translated resources cached for sharing between nodes."}),
		built: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "shared_resources_built_total",
			Help: "Resources translated; every other use is shared."}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "translation_errors_total",
			Help: "Node translations that failed; the node keeps its previous snapshot."}),
		nacks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "xds_nacks_total",
			Help: "Responses rejected by clients, by resource type."}, []string{"type"}),
		pending: pushTracker{since: make(map[pushKey]time.Time)},
	}
}

// collectors returns every metric, for registration.
func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.streams, m.responses, m.pushLatency, m.buildSeconds, m.updates,
		m.translated, m.published, m.fragments, m.built, m.errors, m.nacks}
}

// pushKey is one node's resource type.
type pushKey struct{ node, typeURL string }

// pushTracker remembers, for each node and type whose version a catalog
// changed, when applying that catalog started, until a response of that
// type goes out to that node. It is safe for concurrent use.
type pushTracker struct {
	mu    sync.Mutex
	since map[pushKey]time.Time
}

// changed records that node's type typeURL changed in an update that
// started at start. An older pending start is kept: the response that
// follows carries both changes.
func (p *pushTracker) changed(node, typeURL string, start time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := pushKey{node, typeURL}
	if _, ok := p.since[k]; !ok {
		p.since[k] = start
	}
}

// pushStale bounds what [pushTracker.sent] reports: a change older than
// this waited for its node to connect, and is not a push latency.
const pushStale = time.Minute

// sent returns how long ago node's pending change of typeURL started, and
// forgets it; ok is false if none is pending or it is older than
// pushStale.
func (p *pushTracker) sent(node, typeURL string) (d time.Duration, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := pushKey{node, typeURL}
	start, ok := p.since[k]
	if ok {
		delete(p.since, k)
	}
	d = time.Since(start)
	return d, ok && d < pushStale
}

// forget drops node's pending changes, once it is no longer served.
func (p *pushTracker) forget(node string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.since {
		if k.node == node {
			delete(p.since, k)
		}
	}
}
