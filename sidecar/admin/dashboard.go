package admin

import (
	"embed"
	"io/fs"
	"net/http"
	"time"
)

// dashboardFiles are the dashboard's page, script and style: plain HTML,
// CSS and JS with nothing loaded from elsewhere, so the page works with
// the network offline.
//
//go:embed dashboard
var dashboardFiles embed.FS

// XDSType is what the xDS client last did with one resource type, as the
// dashboard shows it: the version last ACKed and when, and the last NACK,
// its version, when and its error. NACKTime after ACKTime means the NACK
// is the latest word on the type.
type XDSType struct {
	TypeURL     string
	ACKVersion  string
	ACKTime     time.Time
	NACKVersion string
	NACKTime    time.Time
	NACKError   string
}

// WithXDSStatus makes the dashboard show each xDS type's version, last ACK
// and last NACK as status reports them (the sidecar wires the xDS client's
// XDSStatus). status must be safe for concurrent use and must not block.
func WithXDSStatus(status func() []XDSType) Option {
	return func(a *admin) { a.dash.xds = status }
}

// WithRecentAccessLog makes the dashboard show recent access-log lines:
// recent returns up to n of the latest lines, oldest first. It must be
// safe for concurrent use and must not block. Without it the dashboard
// says access-log lines are not available. The sidecar wires
// sidecar/accesslog.Recent, the lines its file, stdout and stderr sinks
// wrote last.
func WithRecentAccessLog(recent func(n int) []string) Option {
	return func(a *admin) { a.dash.recent = recent }
}

// routeDashboard registers the dashboard: /dashboard (the page and its
// assets under /dashboard/), /dashboard/state (one JSON frame) and
// /dashboard/events (frames as server-sent events).
func (a *admin) routeDashboard(mux *http.ServeMux) {
	a.dash.init(a)
	assets, _ := fs.Sub(dashboardFiles, "dashboard")
	files := http.StripPrefix("/dashboard/", http.FileServerFS(assets))
	mux.HandleFunc("GET /dashboard", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, assets, "index.html")
	})
	mux.Handle("GET /dashboard/", files)
	mux.HandleFunc("GET /dashboard/state", a.dash.state)
	mux.HandleFunc("GET /dashboard/events", a.dash.events)
}

// state answers one frame of the dashboard as JSON.
func (d *dashboard) state(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(d.current(time.Now()))
}
