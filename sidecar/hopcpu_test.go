package sidecar

import (
	"io"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

// TestMeasureHopCPU reports the CPU the whole test process spends per
// request through two listeners (outbound -> cluster -> inbound, which
// answers directly), plaintext and mTLS, with keep-alive connections on
// both legs. The client is the same in both runs, so the difference is
// what mTLS costs per request once connections are open. It runs only
// with MESHLB_HOP_CPU=<requests>.
func TestMeasureHopCPU(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MESHLB_HOP_CPU"))
	if n <= 0 {
		t.Skip("set MESHLB_HOP_CPU=<requests> to measure")
	}
	for _, mtls := range []bool{false, true, false, true} {
		us := measureHop(t, n, mtls)
		t.Logf("mtls=%v: %.1f cpu_us/req over %d requests", mtls, us, n)
	}
}

func measureHop(t *testing.T, n int, mtls bool) float64 {
	s := newSidecar(t)
	ca := transporttest.NewCA(t, "mesh")
	inbound, outbound := freeAddr(t), freeAddr(t)
	in := config.Listener{Name: "in", Address: inbound, FilterChains: []config.FilterChain{{
		HTTP: &config.HTTPManager{StatPrefix: "in", StreamIdleTimeout: time.Minute, Routes: &config.RouteConfig{Name: "in",
			VirtualHosts: []config.VirtualHost{{Name: "all", Domains: []string{"*"}, Routes: []config.Route{{
				Match:  config.RouteMatch{Kind: config.PathPrefix, Path: "/"},
				Direct: &config.DirectResponse{Status: 200, Body: "ok"}}}}}}}}}}
	hop := staticCluster("hop", inbound)
	if mtls {
		in.FilterChains[0].TLS = &spec.DownstreamTLS{TLSCommon: spec.TLSCommon{
			Certificates: certOf(ca.Leaf(t, apiSPIFFE)),
			Validation:   &spec.Validation{TrustedCA: ca.PEM, SubjectAltNames: spiffeSAN(webSPIFFE)},
			MinVersion:   spec.TLS12, MaxVersion: spec.TLS13}, RequireClientCert: true}
		hop.TLS = &spec.UpstreamTLS{TLSCommon: spec.TLSCommon{Certificates: certOf(ca.Leaf(t, webSPIFFE)),
			Validation: &spec.Validation{TrustedCA: ca.PEM, SubjectAltNames: spiffeSAN(apiSPIFFE)},
			MinVersion: spec.TLS12, MaxVersion: spec.TLS13}}
	}
	if err := s.Apply(&config.Set{Clusters: []config.Cluster{hop},
		Listeners: []config.Listener{in, httpListener("out", outbound, "hop")}}); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	get := func() {
		resp, err := c.Get("http://" + outbound + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get() // open both connections
	before := cpuTime()
	for range n {
		get()
	}
	return float64(cpuTime()-before) / float64(time.Microsecond) / float64(n)
}

// cpuTime is the user and system CPU the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
