package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/meshlb/meshlb/discovery"
	"github.com/meshlb/meshlb/discovery/consul"
	"github.com/meshlb/meshlb/xds/server"
)

// collectorSource is a discovery source that exposes its own metrics
// (queries, errors, catalog build time); control registers them beside
// the xDS server's.
type collectorSource interface {
	Collectors() []prometheus.Collector
}

// consulStatser is a Consul discovery source's counters.
type consulStatser interface {
	Stats() consul.Stats
}

// consulCollectors exposes the counters of a Consul source: queries sent to
// the agent, failed, refused for a limit (429), connections in flight (its
// connections to the agent) and service fetches after a change.
func consulCollectors(s consulStatser) []prometheus.Collector {
	const ns = "meshlb_control_consul"
	counter := func(name, help string, v func(consul.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help},
			func() float64 { return float64(v(s.Stats())) })
	}
	return []prometheus.Collector{
		counter("queries_total", "Requests sent to the Consul agent, blocking or not.",
			func(st consul.Stats) uint64 { return st.Queries }),
		counter("errors_total", "Requests to the Consul agent that failed.",
			func(st consul.Stats) uint64 { return st.Errors }),
		counter("rate_limited_total", "Requests the Consul agent refused for a limit (HTTP 429).",
			func(st consul.Stats) uint64 { return st.RateLimited }),
		counter("fetches_total", "Service health fetches made after a change.",
			func(st consul.Stats) uint64 { return st.Fetches }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "in_flight",
			Help: "Requests in flight to the Consul agent: about the connections held to it."},
			func() float64 { return float64(s.Stats().InFlight) }),
	}
}

// controlAdmin returns the control server's admin handler:
//
//	/ready              200 once srv has applied a catalog, else 503
//	/stats              every metric as "name{labels}: value" lines
//	/stats/prometheus   the same in Prometheus text format
//	/debug/pprof/       Go profiles
func controlAdmin(srv *server.Server, src discovery.Source) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	cs := append(srv.Collectors(), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if s, ok := src.(collectorSource); ok {
		cs = append(cs, s.Collectors()...)
	}
	if s, ok := src.(consulStatser); ok {
		cs = append(cs, consulCollectors(s)...)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		if !srv.Ready() {
			http.Error(w, "NOT READY: no catalog applied yet", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "LIVE\n")
	})
	mux.Handle("GET /stats/prometheus", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) { writeStats(w, reg) })
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux, nil
}

// writeStats writes every metric of g as "name{labels}: value", sorted;
// a histogram as its _count, _sum and cumulative _bucket lines.
func writeStats(w http.ResponseWriter, g prometheus.Gatherer) {
	mfs, err := g.Gather()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	var lines []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			lines = append(lines, statLines(mf.GetName(), m)...)
		}
	}
	slices.Sort(lines)
	io.WriteString(w, strings.Join(lines, "\n")+"\n")
}

func statLines(name string, m *dto.Metric) []string {
	labels := labelString(m.GetLabel(), "")
	line := func(suffix, extra string, v float64) string {
		l := labels
		if extra != "" {
			l = labelString(m.GetLabel(), extra)
		}
		return fmt.Sprintf("%s%s%s: %g", name, suffix, l, v)
	}
	switch {
	case m.Counter != nil:
		return []string{line("", "", m.GetCounter().GetValue())}
	case m.Gauge != nil:
		return []string{line("", "", m.GetGauge().GetValue())}
	case m.Histogram != nil:
		h := m.GetHistogram()
		out := []string{line("_count", "", float64(h.GetSampleCount())), line("_sum", "", h.GetSampleSum())}
		for _, b := range h.GetBucket() {
			out = append(out, line("_bucket", fmt.Sprintf("le=%q", fmt.Sprint(b.GetUpperBound())), float64(b.GetCumulativeCount())))
		}
		return out
	case m.Summary != nil:
		return []string{line("_count", "", float64(m.GetSummary().GetSampleCount())), line("_sum", "", m.GetSummary().GetSampleSum())}
	}
	return []string{line("", "", m.GetUntyped().GetValue())}
}

// labelString renders labels, plus extra if not empty, as {a="x",b="y"};
// "" when there are none.
func labelString(labels []*dto.LabelPair, extra string) string {
	var parts []string
	for _, l := range labels {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	if extra != "" {
		parts = append(parts, extra)
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// adminShutdown bounds the admin server's graceful shutdown.
const adminShutdown = 2 * time.Second

// serveControlAdmin serves h on lis until ctx is done, then shuts down. It
// returns nil after ctx is done, or the error that stopped serving first.
func serveControlAdmin(ctx context.Context, lis net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving admin: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), adminShutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving admin: %w", err)
	}
	return nil
}
