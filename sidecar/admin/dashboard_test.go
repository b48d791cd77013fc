package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar"
)

// dashSidecar returns a sidecar serving statsSet with a real backend, and
// its admin with the options given.
func dashSidecar(t *testing.T, opts ...Option) (*sidecar.Sidecar, *admin, http.Handler) {
	t.Helper()
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	t.Cleanup(func() {
		if !sc.Draining() { // a test may have closed it
			sc.Close(time.Second)
		}
	})
	if err := sc.Apply(statsSet(statsBackend(t))); err != nil {
		t.Fatal(err)
	}
	a := newAdmin(sc, opts)
	mux := http.NewServeMux()
	a.routeActions(mux)
	a.routeDashboard(mux)
	return sc, a, mux
}

func decodeFrame(t *testing.T, b []byte) frame {
	t.Helper()
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("decoding frame %s: %v", b, err)
	}
	return f
}

// TestDashboardOffline checks the page and its assets are served from the
// binary and load nothing from another origin.
func TestDashboardOffline(t *testing.T) {
	_, _, h := dashSidecar(t)
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import|fetch\(\s*["']https?:`)
	for path, ctype := range map[string]string{
		"/dashboard": "text/html", "/dashboard/app.js": "javascript", "/dashboard/style.css": "text/css",
	} {
		code, body := get(t, h, path)
		if code != 200 || len(body) < 100 {
			t.Errorf("GET %s = %d, %d bytes", path, code, len(body))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if got := rec.Header().Get("Content-Type"); !strings.Contains(got, ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", path, got, ctype)
		}
		if m := external.FindString(body); m != "" {
			t.Errorf("%s refers to another origin: %q", path, m)
		}
	}
}

// TestDashboardState checks a frame lists the cluster with its endpoint
// and health, the listener, the control plane, and each xDS type's ACK and
// NACK, and that an operator's disable and weight show in the next frame.
func TestDashboardState(t *testing.T) {
	acked := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	xds := func() []XDSType {
		return []XDSType{
			{TypeURL: "type.googleapis.com/envoy.config.listener.v3.Listener", ACKVersion: "v1", ACKTime: acked},
			{TypeURL: "type.googleapis.com/envoy.config.cluster.v3.Cluster", ACKVersion: "v1", ACKTime: acked,
				NACKVersion: "v2", NACKTime: acked.Add(time.Second), NACKError: `cluster "be": lb_policy: ` + strings.Repeat("x", 5000)},
		}
	}
	cp := &fakeControlPlane{addr: "127.0.0.1:18000", connected: true}
	var asked int
	recent := func(n int) []string { asked = n; return []string{"GET /a 200", "GET /b 503"} }
	sc, a, h := dashSidecar(t, WithXDSStatus(xds), WithControlPlane(cp), WithNode("web", ""), WithRecentAccessLog(recent))
	code, body := get(t, h, "/dashboard/state")
	if code != 200 {
		t.Fatalf("/dashboard/state = %d %s", code, body)
	}
	f := decodeFrame(t, []byte(body))
	be := sc.Snapshot().Clusters["be"].Endpoints[0].Addr
	want := frameCluster{Name: "be", Healthy: 1, Total: 1, EndpointsTotal: 1,
		Endpoints: []frameEndpoint{{Address: be, Health: "healthy", Usable: true, Weight: 1}}}
	if diff := cmp.Diff([]frameCluster{want}, f.Clusters); diff != "" {
		t.Errorf("clusters (-want +got):\n%s", diff)
	}
	if got := f.Listeners; len(got) != 1 || got[0].Name != "web" || got[0].Protocol != "http" || got[0].Address != sc.Addresses()["web"] {
		t.Errorf("listeners = %+v, want web (http) on its bound address", got)
	}
	if f.State != "LIVE" || f.Node != "web" || f.ControlPlane == nil || !f.ControlPlane.Connected {
		t.Errorf("frame header = %s %s %+v; want LIVE web, connected", f.State, f.Node, f.ControlPlane)
	}
	if diff := cmp.Diff([]string{"GET /a 200", "GET /b 503"}, f.AccessLog); diff != "" || asked != dashMaxLogLines {
		t.Errorf("access log asked for %d lines (want %d), got (-want +got):\n%s", asked, dashMaxLogLines, diff)
	}
	if len(f.XDS) != 2 || f.XDS[0].Type != "Listener" || f.XDS[0].NACKTime != nil || f.XDS[1].Type != "Cluster" ||
		!f.XDS[1].NACKCurrent || f.XDS[1].NACKVersion != "v2" || !strings.HasPrefix(f.XDS[1].NACKError, `cluster "be": lb_policy`) ||
		len(f.XDS[1].NACKError) > dashMaxNACKBytes+len("…") {
		t.Errorf("xds = %+v, want Listener ACKed and Cluster's current NACK, clipped", f.XDS)
	}

	for _, action := range []string{"disable", "weight"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/endpoint/"+action+"?cluster=be&weight=5&address="+be, nil))
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", action, rec.Code, rec.Body)
		}
	}
	f = decodeFrame(t, a.dash.current(time.Now().Add(dashReuse))) // a new frame, not the last one again
	want.Healthy, want.Endpoints[0] = 0, frameEndpoint{Address: be, Health: "/admin_disabled", Admin: "disabled", Weight: 5, EDSWeight: 1}
	if diff := cmp.Diff([]frameCluster{want}, f.Clusters); diff != "" {
		t.Errorf("after disable and weight 5 (-want +got):\n%s", diff)
	}
}

// TestDashboardRates sends 6 requests through the sidecar, 2 of them
// answered 503, between two frames 2 s apart, and checks the rates,
// the 5xx share and the latency percentiles cover that window.
func TestDashboardRates(t *testing.T) {
	sc, a, _ := dashSidecar(t)
	t0 := time.Now()
	f := decodeFrame(t, a.dash.current(t0))
	if f.WindowS != 0 || f.Clusters[0].RPS != 0 {
		t.Fatalf("first frame: window %v, rps %v; want none", f.WindowS, f.Clusters[0].RPS)
	}
	web := "http://" + sc.Addresses()["web"]
	for _, path := range []string{"/", "/", "/", "/", "/fail", "/fail"} {
		resp, err := http.Get(web + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// The sidecar counts a response once it has sent it.
	st := sc.Snapshot().Clusters["be"].Stats
	waitFor(t, "6 responses counted", func() bool {
		c := st.StatusCounts.Classes()
		return st.RqTotal.Load() == 6 && c[1]+c[4] == 6
	})
	f = decodeFrame(t, a.dash.current(t0.Add(2*time.Second)))
	c := f.Clusters[0]
	if f.WindowS != 2 || c.RPS != 3 || c.ErrorRate != 2.0/6 || c.Requests != 6 || c.Endpoints[0].RPS != 3 {
		t.Errorf("window %v s: rps %v, 5xx share %v, requests %d, endpoint rps %v; want 2 s, 3, 1/3, 6, 3",
			f.WindowS, c.RPS, c.ErrorRate, c.Requests, c.Endpoints[0].RPS)
	}
	if c.P50 <= 0 || c.P50 > c.P90 || c.P90 > c.P99 || c.P99 > 1000 {
		t.Errorf("p50 %v, p90 %v, p99 %v ms: want 0 < p50 <= p90 <= p99 < 1 s", c.P50, c.P90, c.P99)
	}
	f = decodeFrame(t, a.dash.current(t0.Add(5*time.Second)))
	if c := f.Clusters[0]; f.WindowS != 3 || c.RPS != 0 || c.P99 != 0 {
		t.Errorf("a quiet window of %v s: rps %v, p99 %v; want 3 s, 0, 0", f.WindowS, c.RPS, c.P99)
	}
}

// TestDashboardReuse checks clients asking within dashReuse share a frame
// and that the samples kept for the rates stay bounded.
func TestDashboardReuse(t *testing.T) {
	_, a, _ := dashSidecar(t)
	now := time.Now()
	first := a.dash.current(now)
	if again := a.dash.current(now.Add(dashReuse / 2)); &again[0] != &first[0] {
		t.Error("a frame asked for within dashReuse was built again")
	}
	for i := range 100 {
		a.dash.current(now.Add(time.Duration(i) * dashReuse))
	}
	if n, max := len(a.dash.samples), int(dashWindow/dashReuse)+2; n > max {
		t.Errorf("kept %d samples, want at most %d", n, max)
	}
}
