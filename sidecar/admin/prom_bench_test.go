package admin

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/config"
)

// BenchmarkScrape5000Clusters scrapes /stats/prometheus of a sidecar with
// 5,000 clusters of two endpoints each (issue 13: under 200 ms a scrape).
func BenchmarkScrape5000Clusters(b *testing.B) {
	benchScrape(b, func(i int) string { return fmt.Sprintf("service-%04d", i) })
}

// BenchmarkScrape5000ClustersConsulTags is BenchmarkScrape5000Clusters
// with Consul's cluster names and the stats_config tags of the bootstrap
// Consul 1.21 writes: 26 more labels on each cluster series.
func BenchmarkScrape5000ClustersConsulTags(b *testing.B) {
	bs, err := config.LoadBootstrap("../config/testdata/consul-1.21-bootstrap.json")
	if err != nil {
		b.Fatal(err)
	}
	benchScrape(b, func(i int) string {
		return fmt.Sprintf("service-%04d.default.dc1.internal.11111111-2222-3333-4444-555555555555.consul", i)
	}, WithStatsTags(bs.Stats))
}

func benchScrape(b *testing.B, clusterName func(int) string, opts ...Option) {
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	set := &config.Set{}
	for i := range 5000 {
		name := clusterName(i)
		set.Clusters = append(set.Clusters, config.Cluster{Name: name, LBPolicy: "round_robin", ConnectTimeout: time.Second,
			Static: &config.LoadAssignment{ClusterName: name, Endpoints: []config.Endpoint{
				{Address: fmt.Sprintf("10.%d.%d.1:8080", i/250, i%250), Weight: 1},
				{Address: fmt.Sprintf("10.%d.%d.2:8080", i/250, i%250), Weight: 1},
			}}})
	}
	if err := sc.Apply(set); err != nil {
		b.Fatal(err)
	}
	for _, cl := range sc.Snapshot().Clusters {
		cl.Stats.CountStatus(200)
		cl.Stats.RqTime.Record(3 * time.Millisecond)
	}
	h := Handler(sc, opts...)
	w := &countingWriter{h: http.Header{}}
	req := httptest.NewRequest("GET", "/stats/prometheus", nil)
	// The first scrape runs tag extraction once per stat name (Envoy does
	// it when it makes a stat); later ones reuse it.
	start, cpu0 := time.Now(), cpuTime()
	h.ServeHTTP(w, req)
	firstMs, firstCPU := time.Since(start).Milliseconds(), (cpuTime() - cpu0).Milliseconds()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 = cpuTime()
	for b.Loop() {
		w.n = 0
		h.ServeHTTP(w, req)
	}
	// CPU time is what a loaded shared machine does not inflate.
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(w.n)/1e6, "MB/scrape")
	b.ReportMetric(float64(firstMs), "first-ms")
	b.ReportMetric(float64(firstCPU), "first-cpu-ms")
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countingWriter is a ResponseWriter that counts and drops the body, as a
// socket would take it.
type countingWriter struct {
	h http.Header
	n int
}

func (w *countingWriter) Header() http.Header { return w.h }
func (w *countingWriter) WriteHeader(int)     {}
func (w *countingWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	return len(b), nil
}
