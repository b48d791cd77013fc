package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/config"
)

// namedBackends starts n HTTP backends; each counts the requests it gets
// in hits, by its address.
func namedBackends(t *testing.T, n int) ([]string, func() map[string]int) {
	var mu sync.Mutex
	hits := map[string]int{}
	var addrs []string
	for range n {
		var addr string
		be := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			mu.Lock()
			hits[addr]++
			mu.Unlock()
		}))
		addr = be.Listener.Addr().String()
		t.Cleanup(be.Close)
		addrs = append(addrs, addr)
	}
	return addrs, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := hits
		hits = map[string]int{}
		return out
	}
}

// edsSet is statsSet with "be" an EDS cluster whose endpoints are
// addrs at weights.
func edsSet(addrs []string, weights ...uint32) *config.Set {
	set := statsSet(addrs[0])
	set.Clusters[0].Static, set.Clusters[0].Type = nil, config.DiscoveryEDS
	la := &config.LoadAssignment{ClusterName: "be"}
	for i, a := range addrs {
		la.Endpoints = append(la.Endpoints, config.Endpoint{Address: a, Weight: weights[i]})
	}
	set.Endpoints = map[string]*config.LoadAssignment{"be": la}
	return set
}

// TestEndpointWeight: POST /endpoint/weight changes the share of requests
// an endpoint gets at once, /clusters shows the weight as overridden, an
// EDS update that leaves the endpoint alone keeps it, and one that changes
// the endpoint's weight replaces it.
func TestEndpointWeight(t *testing.T) {
	addrs, hits := namedBackends(t, 3)
	a, b := addrs[0], addrs[1]
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	if err := sc.Apply(edsSet(addrs[:2], 1, 1)); err != nil {
		t.Fatal(err)
	}
	h := Handler(sc)
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	url := "http://" + sc.Addresses()["web"] + "/ok"
	send := func(n int) map[string]int {
		t.Helper()
		hits()
		for range n {
			resp, err := c.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return hits()
	}
	// Round robin: the shares are exact, give or take the rotation's start.
	near := func(got, want int) bool { return got >= want-2 && got <= want+2 }

	if got := send(200); !near(got[a], 100) {
		t.Fatalf("before: a got %d of 200, want 100", got[a])
	}
	for _, bad := range []string{"0", "-1", "x", "1048577"} {
		if code, _ := post(t, h, "/endpoint/weight?cluster=be&address="+a+"&weight="+bad); code != 400 {
			t.Errorf("weight=%s answered %d, want 400", bad, code)
		}
	}
	if code, body := post(t, h, "/endpoint/weight?cluster=be&address="+a+"&weight=3"); code != 200 || body != "be::"+a+"::weight::3\n" {
		t.Fatalf("set weight: %d %q", code, body)
	}
	if got := send(400); !near(got[a], 300) || !near(got[b], 100) {
		t.Errorf("weight 3 against 1: a got %d, b %d of 400, want 300 and 100", got[a], got[b])
	}
	checkWeightShown(t, h, a, 3, true)

	// EDS adds an endpoint and leaves a as it was: a keeps weight 3.
	if err := sc.Apply(edsSet(addrs, 1, 1, 1)); err != nil {
		t.Fatal(err)
	}
	if got := send(500); !near(got[a], 300) {
		t.Errorf("after an EDS update that leaves a alone: a got %d of 500, want 300", got[a])
	}
	checkWeightShown(t, h, a, 3, true)

	// EDS changes a's weight: EDS's weight replaces the operator's.
	if err := sc.Apply(edsSet(addrs, 2, 1, 1)); err != nil {
		t.Fatal(err)
	}
	if got := send(400); !near(got[a], 200) {
		t.Errorf("after EDS changed a's weight to 2: a got %d of 400, want 200", got[a])
	}
	checkWeightShown(t, h, a, 2, false)
	// Back to a's old weight: the operator's is gone for good.
	if err := sc.Apply(edsSet(addrs, 1, 1, 1)); err != nil {
		t.Fatal(err)
	}
	checkWeightShown(t, h, a, 1, false)
}

// checkWeightShown checks the weight /clusters shows for addr of cluster
// be, in text and JSON, and whether it is shown overridden (the EDS
// weight 1 beside it).
func checkWeightShown(t *testing.T, h http.Handler, addr string, weight int, overridden bool) {
	t.Helper()
	_, text := get(t, h, "/clusters")
	p := "be::" + addr + "::"
	if !strings.Contains(text, p+"weight::"+strconv.Itoa(weight)+"\n") || strings.Contains(text, p+"meshlb_eds_weight::1\n") != overridden {
		t.Errorf("/clusters for %s, want weight %d (overridden %v):\n%s", addr, weight, overridden, text)
	}
	_, body := get(t, h, "/clusters?format=json")
	var cs struct {
		ClusterStatuses []struct {
			HostStatuses []struct {
				Address struct {
					SocketAddress struct {
						PortValue int `json:"port_value"`
					} `json:"socket_address"`
				} `json:"address"`
				Weight    int `json:"weight"`
				EDSWeight int `json:"meshlb_eds_weight"`
			} `json:"host_statuses"`
		} `json:"cluster_statuses"`
	}
	if err := json.Unmarshal([]byte(body), &cs); err != nil {
		t.Fatal(err)
	}
	for _, hs := range cs.ClusterStatuses[0].HostStatuses {
		if !strings.HasSuffix(addr, ":"+strconv.Itoa(hs.Address.SocketAddress.PortValue)) {
			continue
		}
		if hs.Weight != weight || (hs.EDSWeight == 1) != overridden {
			t.Errorf("/clusters?format=json for %s: weight %d, meshlb_eds_weight %d; want %d, overridden %v", addr, hs.Weight, hs.EDSWeight, weight, overridden)
		}
		return
	}
	t.Errorf("/clusters?format=json has no %s:\n%s", addr, body)
}
