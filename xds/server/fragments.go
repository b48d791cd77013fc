package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/meshlb/meshlb/discovery"
)

// fragment is one translated, validated resource, shared read-only by the
// snapshots of every node that uses it.
type fragment struct {
	name string
	res  types.Resource
	// hash is go-control-plane's [cache.HashResource] of the resource's
	// deterministic encoding: the per-resource version delta xDS sends,
	// and what type versions are computed from.
	hash string
	// prefix is the first 64 bits of hash, for [typeVersion].
	prefix uint64
}

// newFragment validates res and hashes its deterministic encoding.
func newFragment(res types.Resource) (*fragment, error) {
	type validator interface{ ValidateAll() error }
	name := cache.GetResourceName(res)
	v, ok := res.(validator)
	if !ok {
		return nil, fmt.Errorf("validating %T: no ValidateAll method", res)
	}
	if err := v.ValidateAll(); err != nil {
		return nil, fmt.Errorf("validating %q: %w", name, err)
	}
	b, err := cache.MarshalResource(res)
	if err != nil {
		return nil, fmt.Errorf("hashing %q: %w", name, err)
	}
	hash := cache.HashResource(b)
	prefix, err := strconv.ParseUint(hash[:16], 16, 64)
	if err != nil {
		return nil, fmt.Errorf("hashing %q: %w", name, err)
	}
	return &fragment{name: name, res: res, hash: hash, prefix: prefix}, nil
}

// fragments caches the fragments built from one set of catalog inputs, so
// that a resource every node uses (a popular service's cluster, endpoints,
// route table, listener) is built, validated and hashed once per version of
// its inputs, not once per node. A key names the resource kind and exactly
// the inputs that shape it (an endpoint change alters the key of the
// service's ClusterLoadAssignment only), so an entry is never stale; each
// entry also lists the catalog service versions it was last used with, and
// [fragments.sweep] drops the entries the current catalog no longer
// reaches.
//
// A nil *fragments builds every fragment afresh. fragments is safe for
// concurrent use; concurrent gets of one key build it once.
type fragments struct {
	mu      sync.Mutex
	entries map[string]*fragmentEntry
	routes  map[serviceVersion]string // memo of routesKey
	built   int                       // fragments built since the last sweep
}

type fragmentEntry struct {
	once sync.Once
	frag *fragment
	err  error
	deps []serviceVersion // catalog services of its last use; under fragments.mu
}

// serviceVersion is one catalog input of a fragment.
type serviceVersion struct{ name, version string }

func newFragments() *fragments {
	return &fragments{entries: make(map[string]*fragmentEntry), routes: make(map[serviceVersion]string)}
}

// get returns the fragment for key, calling build (at most once per key)
// if there is none. deps are the catalog services (at their current
// versions) the resource is built from.
func (c *fragments) get(key string, deps []serviceVersion, build func() (types.Resource, error)) (*fragment, error) {
	if c == nil {
		return buildFragment(build)
	}
	c.mu.Lock()
	e, ok := c.entries[key]
	if !ok {
		e = &fragmentEntry{}
		c.entries[key] = e
		c.built++
	}
	e.deps = deps
	c.mu.Unlock()
	e.once.Do(func() { e.frag, e.err = buildFragment(build) })
	return e.frag, e.err
}

func buildFragment(build func() (types.Resource, error)) (*fragment, error) {
	res, err := build()
	if err != nil {
		return nil, err
	}
	return newFragment(res)
}

// sweep drops the entries last used with a service version cat does not
// hold, and returns how many entries remain and how many were built since
// the previous sweep. It must not run concurrently with get.
func (c *fragments) sweep(cat *discovery.Catalog) (size, built int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, e := range c.entries {
		if !current(cat, e.deps) {
			delete(c.entries, key)
		}
	}
	for sv := range c.routes {
		if cat.ServiceVersion(sv.name) != sv.version {
			delete(c.routes, sv)
		}
	}
	built, c.built = c.built, 0
	return len(c.entries), built
}

func current(cat *discovery.Catalog, deps []serviceVersion) bool {
	for _, d := range deps {
		if cat.ServiceVersion(d.name) != d.version {
			return false
		}
	}
	return true
}

// routesKey returns a key part that identifies svc's routes and its
// resilience: a hash of their JSON, computed once per service version.
func (c *fragments) routesKey(cat *reads, svc *discovery.Service) string {
	if len(svc.Routes) == 0 && svc.Resilience == nil {
		return "-"
	}
	sv := serviceVersion{svc.Name, cat.ServiceVersion(svc.Name)}
	if c != nil {
		c.mu.Lock()
		k, ok := c.routes[sv]
		c.mu.Unlock()
		if ok {
			return k
		}
	}
	b, _ := json.Marshal([]any{svc.Routes, svc.Resilience}) // plain data: cannot fail
	sum := sha256.Sum256(b)
	k := hex.EncodeToString(sum[:8])
	if c != nil {
		c.mu.Lock()
		c.routes[sv] = k
		c.mu.Unlock()
	}
	return k
}

// fragmentKey joins the parts of a key with a separator no name contains.
func fragmentKey(parts ...string) string { return strings.Join(parts, "\x00") }

// depsKey returns the catalog versions of names, as deps and as a key
// part for a resource built from all of their content.
func depsKey(cat *reads, names ...string) ([]serviceVersion, string) {
	deps := make([]serviceVersion, len(names))
	var b strings.Builder
	for i, n := range names {
		deps[i] = serviceVersion{n, cat.ServiceVersion(n)}
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(deps[i].version)
		b.WriteByte(';')
	}
	return deps, b.String()
}

// limitsKey renders l as a key part; "" for no limits.
func limitsKey(l *discovery.Limits) string {
	if l == nil {
		return ""
	}
	return strconv.Itoa(l.MaxConnections) + "/" + strconv.Itoa(l.MaxPendingRequests) + "/" + strconv.Itoa(l.MaxConcurrentRequests)
}

// outlierKey renders o as a key part; "" for none.
func outlierKey(o *discovery.Outlier) string {
	if o == nil {
		return ""
	}
	b, _ := json.Marshal(o) // plain data: cannot fail
	return string(b)
}
