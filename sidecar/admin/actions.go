package admin

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
)

// WithLogLevel lets /logging read and set the level of the sidecar's
// logger (Envoy's /logging?level=).
func WithLogLevel(lv *slog.LevelVar) Option { return func(a *admin) { a.level = lv } }

// WithQuit makes POST /quitquitquit call quit, which must start the
// sidecar's shutdown and return.
func WithQuit(quit func()) Option { return func(a *admin) { a.quit = quit } }

// WithDrainTime sets how long /drain_listeners?graceful lets listeners
// accept before they stop (Envoy's --drain-time-s); default
// [DefaultDrainTime].
func WithDrainTime(d time.Duration) Option { return func(a *admin) { a.drainTime = d } }

// DefaultDrainTime is Envoy's default --drain-time-s.
const DefaultDrainTime = 600 * time.Second

// routeActions registers the mutating endpoints, POST only: the mux
// answers any other method 405 with Allow: POST.
func (a *admin) routeActions(mux *http.ServeMux) {
	mux.HandleFunc("POST /healthcheck/fail", a.healthcheck(true))
	mux.HandleFunc("POST /healthcheck/ok", a.healthcheck(false))
	mux.HandleFunc("POST /logging", a.setLogging)
	mux.HandleFunc("GET /logging", a.logging)
	mux.HandleFunc("POST /quitquitquit", a.quitquitquit)
	mux.HandleFunc("POST /drain_listeners", a.drainListeners)
	mux.HandleFunc("POST /endpoint/drain", a.endpointAction(cluster.AdminDrain))
	mux.HandleFunc("POST /endpoint/disable", a.endpointAction(cluster.AdminDisabled))
	mux.HandleFunc("POST /endpoint/enable", a.endpointAction(cluster.AdminReady))
	mux.HandleFunc("POST /endpoint/weight", a.endpointWeight)
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

// drainListeners is Envoy's /drain_listeners: the listeners (with
// ?inboundonly those of traffic_direction INBOUND) drain their
// connections and stop accepting, at once or with ?graceful after the
// drain time. The sidecar goes on running, and /ready is unchanged, as in
// Envoy.
func (a *admin) drainListeners(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	_, inbound := q["inboundonly"]
	var grace time.Duration
	if _, graceful := q["graceful"]; graceful {
		grace = a.drainTime
	}
	a.sc.DrainListeners(inbound, grace)
	fmt.Fprintln(w, "OK")
}

// endpointAction sets the admin state of the endpoint ?address= of the
// cluster ?cluster= and rebuilds the cluster's picker, so the change is in
// force for the next pick: HAProxy's "set server <b>/<s> state
// drain|maint|ready", which Envoy lacks.
func (a *admin) endpointAction(st cluster.AdminState) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cl, ep, ok := a.endpointOf(w, r)
		if !ok {
			return
		}
		ep.State.Admin.Store(uint32(st))
		if cl.Runtime != nil {
			cl.Runtime.Rebuild()
		}
		fmt.Fprintf(w, "%s::%s::%s\n", cl.Name, ep.Addr, adminStateName(st))
	}
}

// endpointWeight sets the weight of the endpoint ?address= of the cluster
// ?cluster= to ?weight= (1 to 1048576) and rebuilds the cluster's picker:
// HAProxy's "set server <b>/<s> weight". The weight holds until a
// configuration update changes what EDS says of the endpoint; /clusters
// shows it as overridden meanwhile.
func (a *admin) endpointWeight(w http.ResponseWriter, r *http.Request) {
	cl, ep, ok := a.endpointOf(w, r)
	if !ok {
		return
	}
	n, err := strconv.ParseUint(r.URL.Query().Get("weight"), 10, 32)
	if err != nil || n < 1 || n > cluster.MaxWeightOverride {
		http.Error(w, fmt.Sprintf("weight: want an integer from 1 to %d", cluster.MaxWeightOverride), http.StatusBadRequest)
		return
	}
	if cl.Runtime == nil {
		http.Error(w, fmt.Sprintf("cluster %q has no runtime", cl.Name), http.StatusConflict)
		return
	}
	cl.Runtime.SetWeight(ep, uint32(n))
	cl.Runtime.Rebuild()
	fmt.Fprintf(w, "%s::%s::weight::%d\n", cl.Name, ep.Addr, n)
}

// endpointOf finds the endpoint ?address= of the cluster ?cluster= in the
// snapshot in force, or answers 404 and reports false.
func (a *admin) endpointOf(w http.ResponseWriter, r *http.Request) (*cluster.Cluster, *cluster.Endpoint, bool) {
	q := r.URL.Query()
	snap := a.sc.Snapshot()
	var cl *cluster.Cluster
	if snap != nil {
		cl = snap.Clusters[q.Get("cluster")]
	}
	if cl == nil {
		http.Error(w, fmt.Sprintf("cluster %q not found", q.Get("cluster")), http.StatusNotFound)
		return nil, nil, false
	}
	ep := findEndpoint(cl, q.Get("address"))
	if ep == nil {
		http.Error(w, fmt.Sprintf("cluster %q has no endpoint %q", cl.Name, q.Get("address")), http.StatusNotFound)
		return nil, nil, false
	}
	return cl, ep, true
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
