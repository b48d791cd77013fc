package grpcstats

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stats"
)

// MaxMethods bounds the methods a filter names stats after under
// stats_for_all_methods, counted per (cluster, service, method) and kept
// across configuration updates of the same filter: past it, a new method
// counts under its cluster's generic grpc.* stats. Envoy has no bound
// (its documentation warns that untrusted clients can grow the stats
// without one); here a client cannot make more than MaxMethods × 6 stats
// (plus the status codes seen, at most 17 per method).
const MaxMethods = 1000

// maxStatus is the highest gRPC status code (UNAUTHENTICATED) counted
// in a stat of its own, as cluster.<name>.grpc[.<service>.<method>].<code>.
const maxStatus = 16

// Stats are the counters of one method of one cluster, or of a cluster's
// calls that are not named (the generic grpc.* stats). Safe for concurrent
// use; counting allocates nothing, except a status code's first count.
type Stats struct {
	Success, Failure, Total           *atomic.Uint64
	RequestMessages, ResponseMessages *atomic.Uint64
	// UpstreamTime is upstream_rq_time; nil without enable_upstream_stats.
	UpstreamTime *stats.Histogram

	prefix string // cluster.<name>.grpc[.<service>.<method>].
	env    httpfilter.Env
	status [maxStatus + 1]atomic.Pointer[atomic.Uint64]
}

func newStats(prefix string, upstream bool, env httpfilter.Env) *Stats {
	s := &Stats{prefix: prefix, env: env,
		Success: env.NewCounter(prefix + "success"), Failure: env.NewCounter(prefix + "failure"),
		Total: env.NewCounter(prefix + "total"), RequestMessages: env.NewCounter(prefix + "request_message_count"),
		ResponseMessages: env.NewCounter(prefix + "response_message_count")}
	if upstream {
		s.UpstreamTime = env.NewHistogram(prefix + "upstream_rq_time")
	}
	return s
}

// count counts a call that ended with grpc-status code: success for "0",
// failure otherwise, and the code's own counter for 0 to 16.
func (s *Stats) count(code []byte) {
	s.Total.Add(1)
	if len(code) == 1 && code[0] == '0' {
		s.Success.Add(1)
	} else {
		s.Failure.Add(1)
	}
	c, ok := statusCode(code)
	if !ok {
		return
	}
	p := s.status[c].Load()
	if p == nil {
		p = s.env.NewCounter(s.prefix + strconv.Itoa(c))
		s.status[c].Store(p) // a racing store stores the same counter
	}
	p.Add(1)
}

// statusCode parses a grpc-status value of 0 to maxStatus.
func statusCode(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 2 {
		return 0, false
	}
	c := 0
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, false
		}
		c = c*10 + int(d-'0')
	}
	return c, c <= maxStatus
}

// table finds the [Stats] of a call by cluster and path. Lookups are one
// atomic load and two map reads; a method's first call builds its stats
// under a lock and publishes a new map (copy on write). Safe for
// concurrent use.
type table struct {
	all         bool
	allow       map[string]map[string]bool // service → method; nil: none
	replaceDots bool
	upstream    bool
	env         httpfilter.Env

	byCluster atomic.Pointer[map[string]*clusterStats]
	mu        sync.Mutex
	named     atomic.Int32 // methods with stats of their own
}

// clusterStats are one cluster's stats.
type clusterStats struct {
	generic *Stats
	methods map[string]*Stats // by path, /<service>/<method>
}

func newTable(c *spec.GRPCStats, env httpfilter.Env) *table {
	t := &table{all: c.AllMethods, replaceDots: c.ReplaceDots, upstream: c.UpstreamStats, env: env}
	for svc, methods := range c.Allowlist {
		if t.allow == nil {
			t.allow = map[string]map[string]bool{}
		}
		if t.allow[svc] == nil {
			t.allow[svc] = map[string]bool{}
		}
		for _, m := range methods {
			t.allow[svc][m] = true
		}
	}
	t.byCluster.Store(&map[string]*clusterStats{})
	return t
}

// splitPath returns the service and method of a gRPC path,
// /<service>/<method>, and false for any other path (Envoy then does not
// count the call).
func splitPath(path []byte) (svc, method []byte, ok bool) {
	if len(path) < 4 || path[0] != '/' {
		return nil, nil, false
	}
	svc, method, ok = bytes.Cut(path[1:], []byte{'/'})
	return svc, method, ok && len(svc) > 0 && len(method) > 0 && bytes.IndexByte(method, '/') < 0
}

// lookup returns the stats for a call of path (a valid gRPC path) to
// cluster: the method's own when it is allow-listed (or every method is
// named, up to MaxMethods), else the cluster's generic ones.
func (t *table) lookup(cluster string, path []byte) *Stats {
	cs := (*t.byCluster.Load())[cluster]
	if cs != nil {
		if s := cs.methods[string(path)]; s != nil {
			return s
		}
	}
	svc, method, _ := splitPath(path)
	named := t.allow[string(svc)][string(method)] || t.all && t.named.Load() < MaxMethods
	if cs != nil && !named {
		return cs.generic
	}
	return t.add(cluster, path, named)
}

// add makes the stats of cluster, and of path's method when named, and
// returns the call's.
func (t *table) add(cluster string, path []byte, named bool) *Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.byCluster.Load()
	cs := old[cluster]
	if cs == nil {
		cs = &clusterStats{generic: newStats("cluster."+cluster+".grpc.", t.upstream, t.env)}
	}
	if !named {
		t.publish(old, cluster, cs)
		return cs.generic
	}
	if s := cs.methods[string(path)]; s != nil {
		return s
	}
	if t.all && t.named.Load() >= MaxMethods {
		t.publish(old, cluster, cs)
		return cs.generic
	}
	svc, method, _ := splitPath(path)
	s := newStats("cluster."+cluster+".grpc."+t.statService(svc)+"."+string(method)+".", t.upstream, t.env)
	methods := make(map[string]*Stats, len(cs.methods)+1)
	for k, v := range cs.methods {
		methods[k] = v
	}
	methods[string(path)] = s
	t.named.Add(1)
	t.publish(old, cluster, &clusterStats{generic: cs.generic, methods: methods})
	return s
}

// publish stores a copy of old with cluster's stats cs. t.mu is held.
func (t *table) publish(old map[string]*clusterStats, cluster string, cs *clusterStats) {
	if old[cluster] == cs {
		return
	}
	m := make(map[string]*clusterStats, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[cluster] = cs
	t.byCluster.Store(&m)
}

// statService is the service as stat names carry it: its dots as
// underscores under replace_dots_in_grpc_service_name.
func (t *table) statService(svc []byte) string {
	if t.replaceDots {
		return strings.ReplaceAll(string(svc), ".", "_")
	}
	return string(svc)
}
