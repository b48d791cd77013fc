package admin

import (
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/meshlb/meshlb/sidecar"
)

// fakeControlPlane is a ControlPlane whose state the test sets.
type fakeControlPlane struct {
	mu        sync.Mutex
	addr      string
	connected bool
}

func (f *fakeControlPlane) set(addr string, connected bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addr, f.connected = addr, connected
}

func (f *fakeControlPlane) ControlPlane() (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addr, f.connected
}

func TestServerInfo(t *testing.T) {
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	cp := &fakeControlPlane{}
	h := Handler(sc, WithControlPlane(cp), WithNode("web", "mesh"))
	tests := []struct {
		name      string
		addr      string
		connected bool
		gauge     string
	}{
		{"connecting", "10.0.0.1:18000", false, "0"},
		{"connected", "10.0.0.2:18000", true, "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cp.set(tc.addr, tc.connected)
			code, body := get(t, h, "/server_info")
			if code != 200 {
				t.Fatalf("status %d", code)
			}
			var got serverInfo
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("decoding %s: %v", body, err)
			}
			want := serverInfo{
				Version: "meshlb", State: "PRE_INITIALIZING",
				Node:         serverNode{ID: "web", Cluster: "mesh", UserAgentName: "meshlb"},
				ControlPlane: &controlPlaneSummary{Address: tc.addr, Connected: tc.connected},
			}
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(serverInfo{}, "UptimeCurrentEpoch", "UptimeAllEpochs")); diff != "" {
				t.Errorf("/server_info (-want +got):\n%s", diff)
			}
			if !strings.HasSuffix(got.UptimeCurrentEpoch, "s") {
				t.Errorf("uptime %q is not a Duration", got.UptimeCurrentEpoch)
			}
			if _, body := get(t, h, "/stats"); !strings.Contains(body, "control_plane.connected_state: "+tc.gauge+"\n") {
				t.Errorf("/stats lacks control_plane.connected_state: %s:\n%s", tc.gauge, body)
			}
			if _, body := get(t, h, "/stats/prometheus"); !strings.Contains(body, "\nenvoy_control_plane_connected_state "+tc.gauge+"\n") {
				t.Errorf("/stats/prometheus lacks envoy_control_plane_connected_state %s:\n%s", tc.gauge, body)
			}
		})
	}
}
