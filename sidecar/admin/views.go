package admin

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"runtime/metrics"
	"strconv"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

func (a *admin) routeViews(mux *http.ServeMux) {
	mux.HandleFunc("GET /listeners", a.listeners)
	mux.HandleFunc("GET /memory", memory)
	mux.HandleFunc("GET /runtime", runtimeLayers)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

type socketAddress struct {
	SocketAddress struct {
		Address   string `json:"address"`
		PortValue int    `json:"port_value"`
	} `json:"socket_address"`
}

func addressOf(hostport string) socketAddress {
	var a socketAddress
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		a.SocketAddress.Address = hostport
		return a
	}
	a.SocketAddress.Address = host
	a.SocketAddress.PortValue, _ = strconv.Atoi(port)
	return a
}

// listeners answers Envoy's /listeners: "name::address" lines, or with
// ?format=json {"listener_statuses":[{"name","local_address"}]}. The
// address is the bound one (a configured port 0 shows the port taken).
func (a *admin) listeners(w http.ResponseWriter, r *http.Request) {
	snap := a.sc.Snapshot()
	if snap == nil {
		return
	}
	bound := a.sc.Addresses()
	type status struct {
		Name         string        `json:"name"`
		LocalAddress socketAddress `json:"local_address"`
	}
	var out []status
	for _, name := range sortedKeys(snap.Listeners) {
		addr := bound[name]
		if addr == "" {
			addr = snap.Listeners[name].Spec.Address
		}
		out = append(out, status{name, addressOf(addr)})
	}
	if r.URL.Query().Get("format") == "json" {
		writeJSON(w, map[string]any{"listener_statuses": out})
		return
	}
	for _, s := range out {
		fmt.Fprintf(w, "%s::%s\n", s.Name, net.JoinHostPort(s.LocalAddress.SocketAddress.Address, strconv.Itoa(s.LocalAddress.SocketAddress.PortValue)))
	}
}

type hostStatus struct {
	Address      socketAddress  `json:"address"`
	Stats        []hostStat     `json:"stats"`
	HealthStatus map[string]any `json:"health_status"`
	Weight       uint32         `json:"weight"`
	Priority     uint32         `json:"priority,omitempty"`
	AdminState   string         `json:"meshlb_admin_state,omitempty"`
	// EDSWeight is set when an operator's weight overrides it: Weight is
	// the operator's.
	EDSWeight uint32 `json:"meshlb_eds_weight,omitempty"`
	// SuccessRate is set when outlier detection rated the endpoint.
	SuccessRate *percent `json:"success_rate,omitempty"`
	// EWMAMillis is the peak-EWMA latency estimate, when there is one.
	EWMAMillis *float64 `json:"meshlb_ewma_ms,omitempty"`
}

// percent is Envoy's type.v3.Percent.
type percent struct {
	Value float64 `json:"value"`
}

type hostStat struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
	Type  string `json:"type,omitempty"`
}

// clustersJSON answers /clusters?format=json in the shape of Envoy's
// admin.v3.Clusters: cluster_statuses with host_statuses, their stats,
// health_status flags, weight and priority, plus meshlb_admin_state for an
// endpoint an operator drained or disabled, and meshlb_eds_weight for one
// whose weight an operator set (weight is then the operator's).
func (a *admin) clustersJSON(w http.ResponseWriter) {
	snap := a.sc.Snapshot()
	type clusterStatus struct {
		Name         string       `json:"name"`
		AddedViaAPI  bool         `json:"added_via_api"`
		HostStatuses []hostStatus `json:"host_statuses,omitempty"`
	}
	out := []clusterStatus{}
	if snap != nil {
		for _, name := range sortedKeys(snap.Clusters) {
			c := snap.Clusters[name]
			cs := clusterStatus{Name: name, AddedViaAPI: true}
			for _, e := range c.Endpoints {
				h := hostJSON(e)
				if weight, overridden := effectiveWeight(c, e); overridden {
					h.Weight, h.EDSWeight = weight, e.Weight
				}
				cs.HostStatuses = append(cs.HostStatuses, h)
			}
			out = append(out, cs)
		}
	}
	writeJSON(w, map[string]any{"cluster_statuses": out})
}

func hostJSON(e *cluster.Endpoint) hostStatus {
	u := func(name string, v uint64) hostStat {
		return hostStat{Name: name, Value: strconv.FormatUint(v, 10), Type: "COUNTER"}
	}
	h := hostStatus{Address: addressOf(e.Addr), Weight: e.Weight, Priority: e.Priority,
		Stats: []hostStat{u("cx_connect_fail", e.ConnectFailures.Load()), u("rq_total", e.Requests.Load()),
			{Name: "rq_active", Value: strconv.FormatInt(e.Inflight.Load(), 10), Type: "GAUGE"}},
		HealthStatus: map[string]any{"eds_health_status": edsHealth(e.Health)}}
	if e.Active != nil && e.Active.Failed() {
		h.HealthStatus["failed_active_health_check"] = true
	}
	if e.Outlier != nil && e.Outlier.Ejected() {
		h.HealthStatus["failed_outlier_check"] = true
	}
	if st := cluster.AdminState(e.State.Admin.Load()); st != cluster.AdminReady {
		h.AdminState = adminStateName(st)
	}
	if e.Outlier != nil {
		if r, ok := e.Outlier.SuccessRate(); ok {
			h.SuccessRate = &percent{r}
		}
	}
	if ms, ok := ewmaMillis(e); ok {
		h.EWMAMillis = &ms
	}
	return h
}

func edsHealth(h spec.HealthStatus) string {
	switch h {
	case spec.Unhealthy:
		return "UNHEALTHY"
	case spec.Draining:
		return "DRAINING"
	case spec.Degraded:
		return "DEGRADED"
	}
	return "HEALTHY"
}

// memory answers Envoy's /memory from the Go runtime's metrics (which do
// not stop the world): allocated is live heap objects, heap_size the heap
// mapped, pageheap_unmapped released to the OS, pageheap_free free but
// kept.
func memory(w http.ResponseWriter, _ *http.Request) {
	names := []string{
		"/memory/classes/heap/objects:bytes", "/memory/classes/total:bytes",
		"/memory/classes/heap/released:bytes", "/memory/classes/heap/free:bytes",
	}
	s := make([]metrics.Sample, len(names))
	for i, n := range names {
		s[i].Name = n
	}
	metrics.Read(s)
	v := func(i int) string {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return "0"
		}
		return strconv.FormatUint(s[i].Value.Uint64(), 10)
	}
	writeJSON(w, map[string]string{"allocated": v(0), "heap_size": v(1), "pageheap_unmapped": v(2), "pageheap_free": v(3),
		"total_thread_cache": "0", "total_physical_bytes": v(1)})
}

// runtimeLayers answers Envoy's /runtime: meshlb has no runtime layers,
// so no entries.
func runtimeLayers(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{"layers": []string{}, "entries": map[string]any{}})
}
