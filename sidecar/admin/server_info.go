package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// ControlPlane reports the xDS control server the sidecar is on: its
// address and whether the stream to it is connected. The xDS client
// (xds/client.Client) implements it.
type ControlPlane interface {
	ControlPlane() (address string, connected bool)
}

// Option configures [Handler].
type Option func(*admin)

// WithControlPlane makes /server_info and the control_plane.connected_state
// stat report cp.
func WithControlPlane(cp ControlPlane) Option { return func(a *admin) { a.cp = cp } }

// WithNode sets the xDS node /server_info reports.
func WithNode(id, cluster string) Option {
	return func(a *admin) { a.node = serverNode{ID: id, Cluster: cluster} }
}

// serverInfo is Envoy's /server_info (admin.v3.ServerInfo) with the fields
// meshlb has, plus control_plane, which Envoy reports only as stats.
type serverInfo struct {
	Version            string               `json:"version"`
	State              string               `json:"state"`
	UptimeCurrentEpoch string               `json:"uptime_current_epoch"`
	UptimeAllEpochs    string               `json:"uptime_all_epochs"`
	Node               serverNode           `json:"node"`
	ControlPlane       *controlPlaneSummary `json:"control_plane,omitempty"`
}

type serverNode struct {
	ID            string `json:"id,omitempty"`
	Cluster       string `json:"cluster,omitempty"`
	UserAgentName string `json:"user_agent_name"`
}

type controlPlaneSummary struct {
	Address   string `json:"address"`
	Connected bool   `json:"connected"`
}

// serverInfo answers /server_info as JSON. state is Envoy's: LIVE,
// PRE_INITIALIZING before the first configuration, DRAINING on shutdown.
// Uptimes are protobuf Duration JSON ("12s").
func (a *admin) serverInfo(w http.ResponseWriter, _ *http.Request) {
	up := fmt.Sprintf("%ds", int64(time.Since(a.start).Seconds()))
	info := serverInfo{
		Version: "meshlb", State: a.state(), UptimeCurrentEpoch: up, UptimeAllEpochs: up, Node: a.node,
	}
	info.Node.UserAgentName = "meshlb"
	if a.cp != nil {
		addr, ok := a.cp.ControlPlane()
		info.ControlPlane = &controlPlaneSummary{Address: addr, Connected: ok}
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(info)
}

// state is Envoy's server state.
func (a *admin) state() string {
	switch {
	case a.sc.Draining() || a.hcFailed.Load():
		return "DRAINING"
	case a.sc.Snapshot() == nil:
		return "PRE_INITIALIZING"
	}
	return "LIVE"
}
