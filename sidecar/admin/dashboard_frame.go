package admin

import (
	"cmp"
	"strings"
	"time"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/cluster"
)

// Dashboard bounds: a frame lists at most this many clusters (by name),
// endpoints per cluster and access-log lines, and clips a NACK's error,
// so a frame stays small whatever the configuration's size. /clusters and
// /config_dump have the rest.
const (
	dashMaxClusters  = 200
	dashMaxEndpoints = 50
	dashMaxLogLines  = 50
	dashMaxNACKBytes = 4 << 10
)

// frame is what the dashboard shows at one moment, sent as JSON. Rates,
// error rates and percentiles cover the last WindowS seconds (zero until
// two reads are that far apart).
type frame struct {
	Time          time.Time            `json:"time"`
	State         string               `json:"state"`
	Node          string               `json:"node,omitempty"`
	UptimeS       int64                `json:"uptime_s"`
	WindowS       float64              `json:"window_s"`
	ControlPlane  *controlPlaneSummary `json:"control_plane,omitempty"`
	XDS           []frameXDS           `json:"xds,omitempty"`
	Clusters      []frameCluster       `json:"clusters"`
	ClustersTotal int                  `json:"clusters_total"`
	Listeners     []frameListener      `json:"listeners"`
	// AccessLog is nil when no recent-lines source is wired.
	AccessLog []string `json:"access_log"`
}

type frameXDS struct {
	Type        string     `json:"type"` // short: Listener, Cluster, ...
	Version     string     `json:"version"`
	ACKTime     *time.Time `json:"ack_time,omitempty"`
	NACKVersion string     `json:"nack_version,omitempty"`
	NACKTime    *time.Time `json:"nack_time,omitempty"`
	NACKError   string     `json:"nack_error,omitempty"`
	// NACKCurrent is true while the NACK is newer than the last ACK.
	NACKCurrent bool `json:"nack_current,omitempty"`
}

type frameCluster struct {
	Name           string          `json:"name"`
	Healthy        int64           `json:"healthy"`
	Total          int64           `json:"total"`
	Ejected        int64           `json:"ejected"`
	Inflight       int64           `json:"inflight"`
	Requests       uint64          `json:"requests"`
	RPS            float64         `json:"rps"`
	ErrorRate      float64         `json:"error_rate"` // 5xx share of responses in the window
	P50            float64         `json:"p50_ms"`
	P90            float64         `json:"p90_ms"`
	P99            float64         `json:"p99_ms"`
	Endpoints      []frameEndpoint `json:"endpoints"`
	EndpointsTotal int             `json:"endpoints_total"`
}

type frameEndpoint struct {
	Address string `json:"address"`
	Health  string `json:"health"` // Envoy's health_flags: "healthy" or the failing flags
	Usable  bool   `json:"usable"`
	Ejected bool   `json:"ejected"`
	Admin   string `json:"admin,omitempty"` // drain, disabled: an operator's action
	Weight  uint32 `json:"weight"`          // in force: an operator's, if set
	// EDSWeight is the weight EDS gave while an operator's overrides it.
	EDSWeight uint32  `json:"eds_weight,omitempty"`
	Priority  uint32  `json:"priority"`
	Inflight  int64   `json:"inflight"`
	Requests  uint64  `json:"requests"`
	RPS       float64 `json:"rps"`
}

type frameListener struct {
	Name     string `json:"name"`
	Address  string `json:"address"`
	Protocol string `json:"protocol"` // http, tcp or http+tcp by filter chain
	CxActive int64  `json:"cx_active"`
	CxTotal  uint64 `json:"cx_total"`
}

// build returns the frame of now, with rates against base (nil: none),
// and the sample of now for later frames.
func (d *dashboard) build(now time.Time, base *sample) (*frame, *sample) {
	a := d.a
	f := &frame{Time: now, State: a.state(), Node: a.node.ID, UptimeS: int64(now.Sub(a.start).Seconds())}
	if a.cp != nil {
		addr, ok := a.cp.ControlPlane()
		f.ControlPlane = &controlPlaneSummary{Address: addr, Connected: ok}
	}
	if d.xds != nil {
		f.XDS = xdsRows(d.xds())
	}
	if d.recent != nil {
		f.AccessLog = append([]string{}, d.recent(dashMaxLogLines)...)
	}
	cur := &sample{at: now, clusters: map[string]clusterSample{}}
	if base != nil {
		f.WindowS = now.Sub(base.at).Seconds()
	}
	f.Clusters, f.Listeners = []frameCluster{}, []frameListener{}
	snap := a.sc.Snapshot()
	if snap == nil {
		return f, cur
	}
	names := sortedKeys(snap.Clusters)
	f.ClustersTotal = len(names)
	for _, name := range names[:min(len(names), dashMaxClusters)] {
		cl := snap.Clusters[name]
		cs := sampleCluster(cl)
		cur.clusters[name] = cs
		f.Clusters = append(f.Clusters, clusterRow(cl, cs, base, f.WindowS))
	}
	f.Listeners = listenerRows(snap, a.sc.Addresses())
	return f, cur
}

// clusterRow is one cluster's row: its counters now and its rates in the
// window since base.
func clusterRow(cl *cluster.Cluster, cs clusterSample, base *sample, window float64) frameCluster {
	m := membershipOf(cl)
	row := frameCluster{Name: cl.Name, Healthy: m.healthy + m.degraded, Total: m.total, Ejected: ejectedEndpoints(cl),
		Inflight: cl.Stats.RqActive.Load(), Requests: cs.requests, EndpointsTotal: len(cl.Endpoints), Endpoints: []frameEndpoint{}}
	var prev clusterSample
	ok := false
	if base != nil {
		prev, ok = base.clusters[cl.Name]
	}
	if ok && window > 0 {
		w := cs.since(prev)
		row.RPS = float64(w.requests) / window
		if w.responses > 0 {
			row.ErrorRate = float64(w.errors) / float64(w.responses)
		}
		row.P50, row.P90, row.P99 = w.rqTime.Quantile(0.5), w.rqTime.Quantile(0.9), w.rqTime.Quantile(0.99)
	}
	for _, e := range cl.Endpoints[:min(len(cl.Endpoints), dashMaxEndpoints)] {
		ep := endpointRow(cl, e)
		if ok && window > 0 {
			if n, seen := prev.endpoints[e.Addr]; seen {
				ep.RPS = float64(sub64(ep.Requests, n)) / window
			}
		}
		row.Endpoints = append(row.Endpoints, ep)
	}
	return row
}

func endpointRow(cl *cluster.Cluster, e *cluster.Endpoint) frameEndpoint {
	ep := frameEndpoint{Address: e.Addr, Health: healthFlags(e), Usable: e.Usable(),
		Ejected: e.Outlier != nil && e.Outlier.Ejected(), Weight: e.Weight, Priority: e.Priority,
		Inflight: e.Inflight.Load(), Requests: e.Requests.Load()}
	if w, overridden := effectiveWeight(cl, e); overridden {
		ep.Weight, ep.EDSWeight = w, e.Weight
	}
	if st := cluster.AdminState(e.State.Admin.Load()); st != cluster.AdminReady {
		ep.Admin = adminStateName(st)
	}
	return ep
}

// listenerRows lists the listeners in force with their bound addresses
// and downstream connection counts.
func listenerRows(snap *sidecar.Snapshot, bound map[string]string) []frameListener {
	out := []frameListener{}
	for _, name := range sortedKeys(snap.Listeners) {
		l := snap.Listeners[name]
		row := frameListener{Name: name, Address: cmp.Or(bound[name], l.Spec.Address), Protocol: protocolOf(l)}
		if s := l.Stats; s != nil {
			row.CxActive, row.CxTotal = s.CxActive.Load(), s.CxTotal.Load()
		}
		out = append(out, row)
	}
	return out
}

// protocolOf names what a listener's filter chains serve: http, tcp or
// http+tcp.
func protocolOf(l *sidecar.Listener) string {
	var http, tcp bool
	for _, ch := range l.Chains {
		http, tcp = http || ch.HTTP != nil, tcp || ch.HTTP == nil
	}
	switch {
	case http && tcp:
		return "http+tcp"
	case http:
		return "http"
	}
	return "tcp"
}

// xdsRows turns the xDS client's status into the frame's rows, NACK
// errors clipped to dashMaxNACKBytes.
func xdsRows(types []XDSType) []frameXDS {
	out := make([]frameXDS, 0, len(types))
	for _, t := range types {
		row := frameXDS{Type: shortType(t.TypeURL), Version: t.ACKVersion, NACKVersion: t.NACKVersion}
		if !t.ACKTime.IsZero() {
			row.ACKTime = &t.ACKTime
		}
		if !t.NACKTime.IsZero() {
			row.NACKTime, row.NACKError = &t.NACKTime, clip(t.NACKError, dashMaxNACKBytes)
			row.NACKCurrent = t.NACKTime.After(t.ACKTime)
		}
		out = append(out, row)
	}
	return out
}

// shortType is the last part of a type URL: Listener, Cluster, ...
func shortType(url string) string {
	return url[strings.LastIndexByte(url, '.')+1:]
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
