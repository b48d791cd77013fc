package route

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/meshlb/meshlb/internal/weighted"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// Target is one cluster a route forwards to, with its share of a weighted
// split. Cluster is nil when the configuration names a cluster that does
// not exist (Envoy answers 503 then).
type Target struct {
	Name    string
	Cluster *cluster.Cluster
}

// Route is a compiled route: its match and what to do on a match.
type Route struct {
	Name string
	// Index is the route's position in its table, counting the routes of
	// all virtual hosts in order: per-route data compiled elsewhere (HTTP
	// filter overrides) is indexed by it.
	Index   int
	match   matcher
	Targets []Target // empty for direct responses and redirects
	Timeout time.Duration
	// IdleTimeout, when set, replaces the listener's stream idle timeout
	// for the waits on the upstream (0: none); see spec.RouteAction.
	IdleTimeout *time.Duration
	Prefix      string // the matched prefix, for PrefixRewrite
	Rewrite     *string
	HostRewrite string
	Retry       *Retry // nil: only failed connects are redispatched
	// GRPCTimeout, when set, takes a request's timeout from its
	// grpc-timeout header (see RequestTimeout).
	GRPCTimeout *spec.GRPCTimeout
	// HashPolicy makes the request hash for hashing balancers; see Hash.
	HashPolicy []spec.HashPolicy
	Direct     *spec.DirectResponse
	Redirect   *spec.Redirect
	split      weighted.Split
	// Headers are the header mutations of the route, its virtual host
	// and its route configuration; nil: none.
	Headers *Mutations
	// Upgrades are the route's upgrade_configs (see spec.UpgradeAllowed).
	Upgrades []spec.Upgrade
	// PathRegex rewrites the path (regex_rewrite) when set.
	PathRegex *PathRewrite
	// HostHeader names the request header (lower case) whose value, when
	// present, is the upstream Host (host_rewrite_header).
	HostHeader string
}

// Pick returns the target for one request: the only one, or one by weight.
func (r *Route) Pick() *Target { return &r.Targets[r.split.Pick()] }

type vhost struct {
	name   string
	routes []*Route
}

// Table is a compiled route configuration. Safe for concurrent use.
type Table struct {
	Name     string
	exact    map[string]*vhost
	suffixes []domainPattern // "*.example.com" / "*-bar.com", longest first
	prefixes []domainPattern // "foo.*", longest first
	any      *vhost
	mutates  bool // some route has header mutations
}

// Mutates reports whether some route of t has header mutations.
func (t *Table) Mutates() bool { return t.mutates }

type domainPattern struct {
	pattern string
	vh      *vhost
}

// Clusters resolves cluster names while compiling a table.
type Clusters func(name string) *cluster.Cluster

// Compile builds a table from rc, resolving cluster names with clusters.
func Compile(rc *spec.RouteConfig, clusters Clusters) (*Table, error) {
	t := &Table{Name: rc.Name, exact: map[string]*vhost{}}
	n := 0
	for i := range rc.VirtualHosts {
		cvh := &rc.VirtualHosts[i]
		vh := &vhost{name: cvh.Name}
		for j := range cvh.Routes {
			r, err := compileRoute(&cvh.Routes[j], clusters)
			if err == nil {
				r.Headers, err = compileMutations(&cvh.Routes[j].Headers, &cvh.Headers, &rc.Headers)
				t.mutates = t.mutates || r.Headers != nil
			}
			if err != nil {
				return nil, fmt.Errorf("route config %q: virtual_hosts[%d].routes[%d]: %w", rc.Name, i, j, err)
			}
			r.Index, n = n, n+1
			vh.routes = append(vh.routes, r)
		}
		if err := t.addDomains(vh, cvh.Domains); err != nil {
			return nil, fmt.Errorf("route config %q: virtual_hosts[%d].domains: %w", rc.Name, i, err)
		}
	}
	sortLongestFirst(t.suffixes)
	sortLongestFirst(t.prefixes)
	return t, nil
}

func (t *Table) addDomains(vh *vhost, domains []string) error {
	for _, d := range domains {
		d = strings.ToLower(d)
		switch {
		case d == "*":
			if t.any != nil {
				return fmt.Errorf("domain \"*\" appears in two virtual hosts")
			}
			t.any = vh
		case strings.HasPrefix(d, "*"):
			t.suffixes = append(t.suffixes, domainPattern{d[1:], vh})
		case strings.HasSuffix(d, "*"):
			t.prefixes = append(t.prefixes, domainPattern{d[:len(d)-1], vh})
		default:
			if _, dup := t.exact[d]; dup {
				return fmt.Errorf("domain %q appears in two virtual hosts", d)
			}
			t.exact[d] = vh
		}
	}
	return nil
}

func sortLongestFirst(p []domainPattern) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && len(p[j].pattern) > len(p[j-1].pattern); j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

func compileRoute(cr *spec.Route, clusters Clusters) (*Route, error) {
	m, err := compileMatch(&cr.Match)
	if err != nil {
		return nil, err
	}
	r := &Route{Name: cr.Name, match: m, Direct: cr.Direct, Redirect: cr.Redirect}
	switch cr.Match.Kind {
	case spec.PathPrefix, spec.PathSeparatedPrefix:
		r.Prefix = cr.Match.Path
	case spec.PathExact:
		// prefix_rewrite under an exact path match replaces the whole
		// path, as in Envoy (Consul's /metrics → /stats/prometheus).
		r.Prefix = cr.Match.Path
	}
	a := cr.Action
	if a == nil {
		return r, nil
	}
	r.Timeout, r.HostRewrite, r.HostHeader = a.Timeout, a.HostRewrite, a.HostRewriteHeader
	r.IdleTimeout = a.IdleTimeout
	if r.PathRegex, err = compilePathRewrite(a.RegexRewrite); err != nil {
		return nil, err
	}
	r.Retry = compileRetry(a.Retry)
	r.GRPCTimeout = compileGRPCTimeout(a.GRPCTimeout)
	r.Upgrades = a.Upgrades
	r.HashPolicy = compileHashPolicy(a.HashPolicy)
	if a.PrefixRewrite != "" {
		r.Rewrite = &a.PrefixRewrite
	}
	targets := a.Weighted
	if len(targets) == 0 {
		targets = []spec.WeightedCluster{{Name: a.Cluster, Weight: 1}}
	}
	var total uint32
	for _, w := range targets {
		total += w.Weight
		r.split.Add(w.Weight)
		r.Targets = append(r.Targets, Target{Name: w.Name, Cluster: clusters(w.Name)})
	}
	if total == 0 {
		return nil, fmt.Errorf("route.weighted_clusters: total weight is 0")
	}
	return r, nil
}

// compileRegex compiles src as an RE2 expression anchored at both ends,
// as Envoy's safe_regex matches the whole value.
func compileRegex(src string) (*regexp.Regexp, error) {
	re, err := regexp.Compile("^(?:" + src + ")$")
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", src, err)
	}
	return re, nil
}
