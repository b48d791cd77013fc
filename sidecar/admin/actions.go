package admin

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/meshlb/meshlb/sidecar/cluster"
)

// WithLogLevel lets /logging read and set the level of the sidecar's
// logger (Envoy's /logging?level=).
func WithLogLevel(lv *slog.LevelVar) Option { return func(a *admin) { a.level = lv } }

// WithQuit makes POST /quitquitquit call quit, which must start the
// sidecar's shutdown and return.
func WithQuit(quit func()) Option { return func(a *admin) { a.quit = quit } }

// routeActions registers the mutating endpoints, POST only: the mux
// answers any other method 405 with Allow: POST.
func (a *admin) routeActions(mux *http.ServeMux) {
	mux.HandleFunc("POST /healthcheck/fail", a.healthcheck(true))
	mux.HandleFunc("POST /healthcheck/ok", a.healthcheck(false))
	mux.HandleFunc("POST /logging", a.setLogging)
	mux.HandleFunc("GET /logging", a.logging)
	mux.HandleFunc("POST /quitquitquit", a.quitquitquit)
	mux.HandleFunc("POST /endpoint/drain", a.endpointAction(cluster.AdminDrain))
	mux.HandleFunc("POST /endpoint/disable", a.endpointAction(cluster.AdminDisabled))
	mux.HandleFunc("POST /endpoint/enable", a.endpointAction(cluster.AdminReady))
}

// healthcheck sets or clears Envoy's health check failure: while failed,
// /ready answers 503 DRAINING and server.live is 0, so load balancers
// take the sidecar out before it stops.
func (a *admin) healthcheck(fail bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		a.hcFailed.Store(fail)
		fmt.Fprintln(w, "OK")
	}
}

func (a *admin) logging(w http.ResponseWriter, _ *http.Request) {
	if a.level == nil {
		http.Error(w, "the log level is fixed", http.StatusNotImplemented)
		return
	}
	fmt.Fprintf(w, "active loggers:\n  default: %s\n", strings.ToLower(a.level.Level().String()))
}

// setLogging sets the level from ?level= (trace, debug, info, warning,
// warn, error, critical, off), as Envoy's POST /logging?level=.
func (a *admin) setLogging(w http.ResponseWriter, r *http.Request) {
	if a.level == nil {
		http.Error(w, "the log level is fixed", http.StatusNotImplemented)
		return
	}
	lv, ok := levels[r.URL.Query().Get("level")]
	if !ok {
		http.Error(w, "level: want one of trace, debug, info, warning, error, critical, off", http.StatusBadRequest)
		return
	}
	a.level.Set(lv)
	a.logging(w, r)
}

var levels = map[string]slog.Level{
	"trace": slog.LevelDebug - 4, "debug": slog.LevelDebug, "info": slog.LevelInfo,
	"warning": slog.LevelWarn, "warn": slog.LevelWarn, "error": slog.LevelError,
	"critical": slog.LevelError + 4, "off": slog.LevelError + 8,
}

func (a *admin) quitquitquit(w http.ResponseWriter, _ *http.Request) {
	if a.quit == nil {
		http.Error(w, "no shutdown hook", http.StatusNotImplemented)
		return
	}
	fmt.Fprintln(w, "OK")
	a.quit()
}

// endpointAction sets the admin state of the endpoint ?address= of the
// cluster ?cluster= and rebuilds the cluster's picker, so the change is in
// force for the next pick: HAProxy's "set server <b>/<s> state
// drain|maint|ready", which Envoy lacks.
func (a *admin) endpointAction(st cluster.AdminState) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		snap := a.sc.Snapshot()
		var cl *cluster.Cluster
		if snap != nil {
			cl = snap.Clusters[q.Get("cluster")]
		}
		if cl == nil {
			http.Error(w, fmt.Sprintf("cluster %q not found", q.Get("cluster")), http.StatusNotFound)
			return
		}
		ep := findEndpoint(cl, q.Get("address"))
		if ep == nil {
			http.Error(w, fmt.Sprintf("cluster %q has no endpoint %q", cl.Name, q.Get("address")), http.StatusNotFound)
			return
		}
		ep.State.Admin.Store(uint32(st))
		if cl.Runtime != nil {
			cl.Runtime.Rebuild()
		}
		fmt.Fprintf(w, "%s::%s::%s\n", cl.Name, ep.Addr, adminStateName(st))
	}
}

func findEndpoint(cl *cluster.Cluster, addr string) *cluster.Endpoint {
	for _, e := range cl.Endpoints {
		if e.Addr == addr {
			return e
		}
	}
	return nil
}

func adminStateName(st cluster.AdminState) string {
	return [...]string{"ready", "drain", "disabled"}[st]
}
