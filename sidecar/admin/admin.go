// Package admin serves the sidecar's admin endpoints with Envoy's names and
// shapes, so existing tooling works: /ready, /server_info, /config_dump, /clusters,
// /stats and /stats/prometheus.
package admin

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// Handler returns the admin HTTP handler for sc.
func Handler(sc *sidecar.Sidecar, opts ...Option) http.Handler {
	mux := http.NewServeMux()
	a := newAdmin(sc, opts)
	mux.HandleFunc("GET /ready", a.ready)
	mux.HandleFunc("GET /server_info", a.serverInfo)
	mux.HandleFunc("GET /config_dump", a.configDump)
	mux.HandleFunc("GET /clusters", a.clusters)
	mux.HandleFunc("GET /stats", a.statsText)
	mux.HandleFunc("GET /stats/prometheus", a.prometheus)
	mux.HandleFunc("GET /explain", a.explain)
	mux.HandleFunc("GET /{$}", a.index)
	a.routeActions(mux)
	a.routeViews(mux)
	a.routeDashboard(mux)
	// Go's profiler, as Envoy's /cpuprofiler and /heapprofiler: the admin
	// port is trusted, loopback by default.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	return mux
}

func newAdmin(sc *sidecar.Sidecar, opts []Option) *admin {
	a := &admin{sc: sc, start: time.Now(), drainTime: DefaultDrainTime}
	for _, o := range opts {
		o(a)
	}
	if a.tags == nil {
		a.tags = newTagger(defaultProducer())
	}
	return a
}

type admin struct {
	sc       *sidecar.Sidecar
	start    time.Time
	cp       ControlPlane // nil without xDS
	node     serverNode
	level    *slog.LevelVar // nil: the log level is fixed
	quit     func()         // nil: no /quitquitquit
	hcFailed atomic.Bool    // set by /healthcheck/fail
	// tags names and labels the stats as Envoy's tag extraction does.
	tags *tagger
	// drainTime is how long /drain_listeners?graceful accepts.
	drainTime time.Duration
	// dumpQuery answers /config_dump's query; nil: none.
	dumpQuery DumpQuerier
	dash      dashboard // /dashboard
}

// DumpQuerier answers q over dump, a whole config dump: sidecar/config's
// QueryDump, which the admin server cannot call itself (it links no
// protobuf). Errors of type *[spec.DumpQueryError] are the query's.
type DumpQuerier func(dump []byte, q spec.DumpQuery) ([]byte, error)

// WithDumpQuery makes /config_dump answer Envoy's query parameters with
// q.
func WithDumpQuery(q DumpQuerier) Option { return func(a *admin) { a.dumpQuery = q } }

func (a *admin) index(w http.ResponseWriter, _ *http.Request) {
	fmt.Fprintln(w, "meshlb admin: /ready /server_info /config_dump /clusters /listeners /stats /stats/prometheus /memory /runtime /logging /debug/pprof/")
	fmt.Fprintln(w, "POST: /healthcheck/fail /healthcheck/ok /logging?level= /quitquitquit /drain_listeners?graceful&inboundonly /endpoint/{drain,disable,enable}?cluster=&address= /endpoint/weight?cluster=&address=&weight=")
}

// ready answers 200 LIVE once a configuration is in force, as Envoy does
// once initialized, 503 PRE_INITIALIZING before, and 503 DRAINING once the
// sidecar is shutting down, so load balancers stop sending to it first.
func (a *admin) ready(w http.ResponseWriter, _ *http.Request) {
	if st := a.state(); st != "LIVE" {
		http.Error(w, st, http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "LIVE")
}

// configDump renders the configuration in force as Envoy's /config_dump.
// A configuration from xDS is rendered here, on demand, not when applied.
// With a [DumpQuerier] (WithDumpQuery) it answers Envoy's ?resource=,
// ?mask=, ?name_regex= and ?include_eds, and leaves the endpoints out
// unless asked, as Envoy does; without one, those are answered 501.
func (a *admin) configDump(w http.ResponseWriter, r *http.Request) {
	snap := a.sc.Snapshot()
	var dump []byte
	if snap != nil {
		var err error
		if dump, err = snap.Set.ConfigDump(); err != nil {
			http.Error(w, "rendering the config dump: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	q, asked := dumpQuery(r)
	switch {
	case dump == nil:
		dump = []byte(`{"configs":[]}` + "\n")
	case a.dumpQuery != nil:
		if q.IncludeEDS {
			q.Live = liveEndpoints(snap)
		}
		var err error
		if dump, err = a.dumpQuery(dump, q); err != nil {
			dumpQueryFailed(w, err)
			return
		}
	case asked:
		http.Error(w, "this admin server answers /config_dump without query parameters only", http.StatusNotImplemented)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(dump)
}

// dumpQuery reads Envoy's /config_dump parameters, and whether any is
// there.
func dumpQuery(r *http.Request) (spec.DumpQuery, bool) {
	v := r.URL.Query()
	_, eds := v["include_eds"]
	q := spec.DumpQuery{Resource: v.Get("resource"), Mask: v.Get("mask"), NameRegex: v.Get("name_regex"), IncludeEDS: eds}
	return q, q != spec.DumpQuery{}
}

// liveEndpoints reads the weight and health of every endpoint of snap.
func liveEndpoints(snap *sidecar.Snapshot) *spec.LiveEndpoints {
	out := spec.LiveEndpoints{}
	for name, c := range snap.Clusters {
		eps := make(map[string]spec.LiveEndpoint, len(c.Endpoints))
		for _, e := range c.Endpoints {
			w, _ := effectiveWeight(c, e)
			h := spec.Healthy
			switch {
			case e.Health == spec.Unhealthy || e.Health == spec.Draining ||
				e.Active != nil && e.Active.Failed() || e.Outlier != nil && e.Outlier.Ejected():
				h = spec.Unhealthy
			case e.Health == spec.Degraded:
				h = spec.Degraded
			}
			eps[e.Addr] = spec.LiveEndpoint{Weight: w, Health: h}
		}
		out[name] = eps
	}
	return &out
}

// dumpQueryFailed answers as Envoy does: 404 for a resource no section
// has, 400 for another bad query, as text.
func dumpQueryFailed(w http.ResponseWriter, err error) {
	var qe *spec.DumpQueryError
	if !errors.As(err, &qe) {
		http.Error(w, "querying the config dump: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	code := http.StatusBadRequest
	if qe.NotFound {
		code = http.StatusNotFound
	}
	http.Error(w, qe.Msg, code)
}

// clusters prints Envoy's /clusters text format:
// "<cluster>::<host:port>::<stat>::<value>", one line each.
func (a *admin) clusters(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("format") == "json" {
		a.clustersJSON(w)
		return
	}
	snap := a.sc.Snapshot()
	if snap == nil {
		return
	}
	for _, name := range sortedKeys(snap.Clusters) {
		c := snap.Clusters[name]
		l := c.Limits
		fmt.Fprintf(w, "%s::default_priority::max_connections::%d\n", name, l.MaxConnections)
		fmt.Fprintf(w, "%s::default_priority::max_pending_requests::%d\n", name, l.MaxPending)
		fmt.Fprintf(w, "%s::default_priority::max_requests::%d\n", name, l.MaxRequests)
		fmt.Fprintf(w, "%s::default_priority::max_retries::%d\n", name, l.MaxRetries)
		for _, e := range c.Endpoints {
			p := name + "::" + e.Addr + "::"
			fmt.Fprintf(w, "%scx_connect_fail::%d\n", p, e.ConnectFailures.Load())
			fmt.Fprintf(w, "%srq_active::%d\n", p, e.Inflight.Load())
			fmt.Fprintf(w, "%srq_total::%d\n", p, e.Requests.Load())
			fmt.Fprintf(w, "%sidle_connections::%d\n", p, e.Pool.Idle())
			weight, overridden := effectiveWeight(c, e)
			fmt.Fprintf(w, "%sweight::%d\n", p, weight)
			if overridden {
				// Envoy has no such line: the EDS weight an operator's
				// weight replaces, until EDS changes the endpoint.
				fmt.Fprintf(w, "%smeshlb_eds_weight::%d\n", p, e.Weight)
			}
			fmt.Fprintf(w, "%spriority::%d\n", p, e.Priority)
			fmt.Fprintf(w, "%shealth_flags::%s\n", p, healthFlags(e))
			fmt.Fprintf(w, "%ssuccess_rate::%s\n", p, successRate(e))
			if ms, ok := ewmaMillis(e); ok {
				// Envoy has no such line: the peak-EWMA latency estimate.
				fmt.Fprintf(w, "%sewma_ms::%s\n", p, strconv.FormatFloat(ms, 'f', 3, 64))
			}
		}
	}
}

// effectiveWeight returns the weight e takes in c's balancing, and
// whether an operator set it.
func effectiveWeight(c *cluster.Cluster, e *cluster.Endpoint) (uint32, bool) {
	if c.Runtime == nil {
		return e.Weight, false
	}
	return c.Runtime.Weight(e)
}

// successRate renders the outlier detector's success rate of e in its
// last interval as Envoy does: percent, or -1 when not rated or without
// outlier detection.
func successRate(e *cluster.Endpoint) string {
	if e.Outlier != nil {
		if r, ok := e.Outlier.SuccessRate(); ok {
			return strconv.FormatFloat(r, 'g', -1, 64)
		}
	}
	return "-1"
}

// ewmaMillis returns e's peak-EWMA latency estimate in milliseconds, and
// false without one (only the peak_ewma policy measures it).
func ewmaMillis(e *cluster.Endpoint) (float64, bool) {
	if e.Latency.At() == 0 {
		return 0, false
	}
	return e.Latency.Cost() / 1e6, true
}

// healthFlags renders health as Envoy does: "healthy" or the failing
// flags, active health check and outlier detection first.
func healthFlags(e *cluster.Endpoint) string {
	var flags string
	if e.Active != nil && e.Active.Failed() {
		flags = "/failed_active_hc"
	}
	if e.Outlier != nil && e.Outlier.Ejected() {
		flags += "/failed_outlier_check"
	}
	switch cluster.AdminState(e.State.Admin.Load()) {
	case cluster.AdminDrain:
		flags += "/admin_drain"
	case cluster.AdminDisabled:
		flags += "/admin_disabled"
	}
	switch e.Health {
	case spec.Unhealthy:
		flags += "/failed_eds_health"
	case spec.Draining:
		flags += "/pending_dynamic_removal"
	case spec.Degraded:
		flags += "/degraded_eds_health"
	}
	if flags == "" {
		return "healthy"
	}
	return flags
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// metricName turns a subject into a stats-safe token.
func metricName(s string) string { return strings.ReplaceAll(s, ":", "_") }
