package sidecar

import (
	"fmt"
	"strings"
	"time"

	"github.com/meshlb/meshlb/sidecar/accesslog"
	"github.com/meshlb/meshlb/sidecar/balancer"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/filterchain"
	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/h2up"
	"github.com/meshlb/meshlb/sidecar/health"
	"github.com/meshlb/meshlb/sidecar/httpfilter"
	_ "github.com/meshlb/meshlb/sidecar/httpfilter/grpcbridge" // registers grpc_http1_bridge
	_ "github.com/meshlb/meshlb/sidecar/httpfilter/grpcstats"  // registers grpc_stats
	"github.com/meshlb/meshlb/sidecar/l4"
	"github.com/meshlb/meshlb/sidecar/l7"
	"github.com/meshlb/meshlb/sidecar/outlier"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
	tlstransport "github.com/meshlb/meshlb/sidecar/transport"
)

// build compiles set into a snapshot. It reuses the running servers of
// listeners whose address and kind are unchanged; nothing is published.
func (s *Sidecar) build(set *spec.Set) (*Snapshot, error) {
	snap := &Snapshot{
		Set:       set,
		Clusters:  make(map[string]*cluster.Cluster, len(set.Clusters)),
		Listeners: make(map[string]*Listener, len(set.Listeners)),
		Applied:   time.Now(),
	}
	prev := s.current.Load()
	s.startBuild()
	zone, local, err := s.buildLocal(set, prev, snap)
	if err != nil {
		return nil, err
	}
	for i := range set.Clusters {
		if i == local {
			continue
		}
		c, err := s.cluster(&set.Clusters[i], set, prev, snap, zone)
		if err != nil {
			return nil, err
		}
		snap.Clusters[c.Name] = c
	}
	snap.httpFilters = prev.filterState().Next()
	defer snap.httpFilters.Seal()
	for i := range set.Listeners {
		spec := &set.Listeners[i]
		if _, dup := snap.Listeners[spec.Name]; dup {
			return nil, fmt.Errorf("listener %q: duplicate name", spec.Name)
		}
		l, err := s.buildListener(spec, set, snap.Clusters, prev, snap.httpFilters)
		if err != nil {
			return nil, err
		}
		snap.Listeners[spec.Name] = l
	}
	return snap, nil
}

func (s *Sidecar) buildCluster(cs *spec.Cluster, set *spec.Set, zone *cluster.Zone) (*cluster.Cluster, error) {
	if policy := balancer.Policy(cs); balancer.Get(policy) == nil {
		return nil, fmt.Errorf("cluster %q: lb_policy: %q is not supported", cs.Name, policy)
	}
	t, err := transport(cs)
	if err != nil {
		return nil, fmt.Errorf("cluster %q: %w", cs.Name, err)
	}
	la := loadAssignment(cs, set)
	c := &cluster.Cluster{
		Name:           cs.Name,
		ConnectTimeout: cs.ConnectTimeout,
		Stats:          s.stats.cluster(cs.Name),
		Runtime:        s.registry.Runtime(cs.Name),
		Transport:      t,
		Limits: cluster.Limits{
			MaxConnections: int64(cs.MaxConnections), MaxPending: int64(cs.MaxPendingRequests),
			MaxRequests: int64(cs.MaxRequests), MaxRetries: int64(cs.MaxRetries),
			RetryBudget: cs.RetryBudget,
		},
		IdleTimeout: cs.IdleTimeout,
		HTTP:        cs.HTTP,
		Zone:        zone,
	}
	if la != nil {
		for _, e := range la.Endpoints {
			st := s.registry.Get(e.Address, t)
			st.Pool.SetIdleTimeout(cs.IdleTimeout)
			ep := &cluster.Endpoint{State: st, Weight: max(e.Weight, 1), Health: e.Health, Priority: e.Priority,
				Locality: e.Locality, LocalityWeight: e.LocalityWeight}
			if cs.HealthCheck != nil {
				ep.Active = c.Runtime.ActiveHealth(st)
			}
			if cs.Outlier != nil {
				ep.Outlier = c.Runtime.Ejection(st)
			}
			c.Endpoints = append(c.Endpoints, ep)
		}
	}
	var factor uint32
	if la != nil {
		factor = la.Overprovisioning
	}
	pick := func(st *cluster.ZoneStats) cluster.Picker {
		return balancer.BuildZoned(cs, factor, c.Runtime.Weighted(c.Endpoints), c.Zone, st)
	}
	c.Picker = pick(nil)
	c.HealthCheck, c.Outlier = cs.HealthCheck, cs.Outlier
	// Rebuilt when health changes (its own or, zone aware, the local
	// cluster's), and on an operator's runtime action (an endpoint's state
	// or weight); zone stats count the builds put in force.
	c.Rebuild = func() cluster.Picker { return pick(&c.Stats.Zone) }
	return c, nil
}

// publishCluster puts c's picker in force and has its runtime check its
// endpoints: the runtime keeps its checker while the check configuration
// is unchanged, so endpoints keep their checks and verdicts; a changed
// configuration replaces the checker (verdicts stay, in the runtime).
func (s *Sidecar) publishCluster(c *cluster.Cluster) {
	rt := c.Runtime
	rt.RetainHealth(c)
	s.publishOutlier(c)
	if c.Rebuild == nil {
		rt.Install(c.Picker)
	} else {
		rt.InstallFunc(c.Rebuild)
	}
	if c.HealthCheck == nil {
		rt.SetChecker(nil)
		return
	}
	hc, _ := rt.Checker().(*health.Checker)
	if hc == nil || !hc.Same(c.HealthCheck) {
		hc = health.New(c.Name, c.HealthCheck, rt, c.Stats, s.logger)
		rt.SetChecker(hc)
	}
	hc.Update(c)
}

// publishOutlier has c's runtime detect c's outliers with the detector it
// keeps across snapshots (so counters and ejections survive), or none.
func (s *Sidecar) publishOutlier(c *cluster.Cluster) {
	rt := c.Runtime
	if c.Outlier == nil {
		rt.SetDetector(nil)
		return
	}
	d, _ := rt.Detector().(*outlier.Detector)
	if d == nil {
		d = outlier.New(c.Name, rt, &c.Stats.Outlier, s.logger)
		rt.SetDetector(d)
	}
	d.Update(c)
}

// transport returns the transport of cs's upstream connections:
// plaintext, or TLS with a key naming its SNI, ALPN and certificates'
// hashes, so that its connections and pools never mix with plaintext ones
// to the same address.
func transport(cs *spec.Cluster) (cluster.Transport, error) {
	if cs.TLS == nil {
		return cluster.Plain, nil
	}
	t, err := tlstransport.NewUpstream(cs.TLS)
	if err != nil {
		return nil, fmt.Errorf("transport_socket: %w", err)
	}
	return t, nil
}

func edsName(c *spec.Cluster) string {
	if c.EDSName != "" {
		return c.EDSName
	}
	return c.Name
}

func (s *Sidecar) buildListener(ls *spec.Listener, set *spec.Set, clusters map[string]*cluster.Cluster, prev *Snapshot, fs *httpfilter.State) (*Listener, error) {
	var old *Listener
	if prev != nil {
		old = prev.listenerAt(ls.Address)
	}
	l := &Listener{Spec: *ls, Stats: s.stats.listener(ls.Address)}
	var (
		matches []spec.FilterChainMatch
		chains  []*filterchain.Chain
		def     *filterchain.Chain
	)
	dupNames := duplicateNames(l.Spec.FilterChains)
	for fc := range l.Spec.Chains {
		isDefault := fc == l.Spec.Default
		ch, err := s.buildChain(ls.Name, fc, chainKey(fc, isDefault, dupNames), set, clusters, old, fs)
		if err != nil {
			return nil, fmt.Errorf("listener %q: %s%w", ls.Name, chainPath(&l.Spec, fc), err)
		}
		l.Chains = append(l.Chains, ch)
		if isDefault {
			def = ch.runtime()
			continue
		}
		matches = append(matches, fc.Match)
		chains = append(chains, ch.runtime())
	}
	h, err := filterchain.NewHandler(matches, chains, def, s.stats.counter(listenerStat(ls.Address, "no_filter_chain_match")))
	if err != nil {
		return nil, fmt.Errorf("listener %q: %w", ls.Name, err)
	}
	if ti := ls.TLSInspector; ti != nil {
		h = h.WithTLSInspector(&filterchain.TLSInspector{
			Timeout: ti.Timeout, ContinueOnTimeout: ti.ContinueOnTimeout, CloseOnParseError: ti.CloseOnParseError,
			Timeouts: s.stats.counter(listenerStat(ls.Address, "downstream_pre_cx_timeout")),
			Stats:    filterchain.NewInspectorStats(s.stats.counter),
		})
	}
	l.handler = h
	return l, nil
}

// listenerStat is Envoy's name of a listener's statistic,
// listener.<address>.<name>, with ':' in the address written as '_'.
func listenerStat(addr, name string) string {
	return "listener." + strings.ReplaceAll(addr, ":", "_") + "." + name
}

// filterState returns the HTTP filter state of p, which may be nil.
func (p *Snapshot) filterState() *httpfilter.State {
	if p == nil {
		return nil
	}
	return p.httpFilters
}

func (p *Snapshot) listenerAt(addr string) *Listener {
	for _, l := range p.Listeners {
		if l.Spec.Address == addr {
			return l
		}
	}
	return nil
}

// publish puts the listener's configuration in force on its servers,
// which may be shared with the previous snapshot.
func (l *Listener) publish() {
	for _, ch := range l.Chains {
		if ch.HTTP != nil {
			ch.HTTP.Update(ch.httpCfg)
			if ch.H2 != nil {
				ch.H2.Update(ch.h2Cfg)
			}
		} else {
			ch.TCP.Update(ch.tcpCfg)
		}
	}
}

// httpServer keeps the server of a chain that stays HTTP under the same
// key on the same address, so its connections see the new routes on their
// next request.
func (s *Sidecar) httpServer(old *Chain, cfg *l7.Config) *l7.Server {
	if old != nil && old.HTTP != nil {
		return old.HTTP
	}
	return l7.NewServer(cfg, s.logger, s.parker)
}

// httpConfig compiles an HTTP connection manager of listener. scope
// names its chain for HTTP filter state (token buckets), which carries
// over to the next snapshot under the same scope.
func (s *Sidecar) httpConfig(listener, scope string, h *spec.HTTPManager, set *spec.Set, clusters map[string]*cluster.Cluster, fs *httpfilter.State) (*l7.Config, error) {
	rc := h.Routes
	if rc == nil {
		rc = set.Routes[h.RDSName]
		if rc == nil {
			return nil, fmt.Errorf("rds.route_config_name: route configuration %q has not been received", h.RDSName)
		}
	}
	table, err := s.routeTable(rc, clusters)
	if err != nil {
		return nil, err
	}
	filters, err := httpfilter.Compile(h.Filters, rc, httpfilter.Env{Scope: scope, State: fs, StatPrefix: h.StatPrefix,
		Counter: s.stats.counter, Histogram: s.stats.histogram, Logger: s.logger})
	if err != nil {
		return nil, err
	}
	logs, err := accesslog.Compile(h.AccessLogs, s.logs)
	if err != nil {
		return nil, err
	}
	return &l7.Config{Config: forward.Config{Listener: listener, Routes: table, Filters: filters, StreamIdle: h.StreamIdleTimeout,
		SkipXFF: !h.UseRemoteAddress, NormalizePath: h.NormalizePath, MergeSlashes: h.MergeSlashes, XFCC: h.XFCC, Stats: s.stats.http(h.StatPrefix), Mux: h2up.Opener(l7.NewExchange), Upstream: l7.NewExchange,
		Describe: describes(table) || logs != nil, AccessLog: logs, Upgrades: h.Upgrades,
		RequestID:    forward.RequestID{Generate: h.GenerateRequestID, Edge: h.UseRemoteAddress, Preserve: h.PreserveExternalRequestID},
		EnvoyHeaders: !h.SuppressEnvoyHeaders},
		RequestHeadersTimeout: h.RequestHeadersTimeout, RequestTimeout: h.RequestTimeout,
		AcceptHTTP10: h.AcceptHTTP10, DefaultHostHTTP10: []byte(h.DefaultHostHTTP10)}, nil
}

// describes reports whether an HTTP listener's streams must describe
// their connections (protocol, addresses) for what reads them.
func describes(table *route.Table) bool { return table.Mutates() }

func (s *Sidecar) tcpConfig(listener string, t *spec.TCPProxy, clusters map[string]*cluster.Cluster) (*l4.Config, error) {
	var targets []l4.Target
	var weights []uint32
	if len(t.Weighted) == 0 {
		targets = []l4.Target{{Name: t.Cluster, Cluster: clusters[t.Cluster]}}
	}
	for _, w := range t.Weighted {
		targets = append(targets, l4.Target{Name: w.Name, Cluster: clusters[w.Name]})
		weights = append(weights, w.Weight)
	}
	logs, err := accesslog.Compile(t.AccessLogs, s.logs)
	if err != nil {
		return nil, fmt.Errorf("access_log: %w", err)
	}
	cfg := l4.NewConfig(listener, targets, weights, t.IdleTimeout, s.stats.tcp(t.StatPrefix))
	cfg.AccessLog = logs
	return cfg, nil
}

// tcpServer keeps the server of a chain that stays TCP under the same key
// on the same address; its connections keep the configuration they were
// accepted with.
func (s *Sidecar) tcpServer(old *Chain, cfg *l4.Config) *l4.Server {
	if old != nil && old.TCP != nil {
		return old.TCP
	}
	return l4.NewServer(cfg, s.logger)
}
