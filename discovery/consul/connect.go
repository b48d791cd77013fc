package consul

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
)

// agentPolicy is what the agent's configuration says about the mesh:
// whether Connect is on, and the decision for callers no intention
// matches.
type agentPolicy struct {
	connect      bool
	defaultAllow bool
}

// policyFromSelf reads the agent's /v1/agent/self: the default intention
// policy is connect.default_intention_policy if set, else the ACL
// default_policy when ACLs are enabled, else allow, as Consul decides.
func policyFromSelf(self map[string]map[string]any) agentPolicy {
	dc := self["DebugConfig"]
	p := agentPolicy{defaultAllow: true}
	p.connect, _ = dc["ConnectEnabled"].(bool)
	if v, _ := dc["DefaultIntentionPolicy"].(string); v != "" {
		p.defaultAllow = v != "deny"
		return p
	}
	if on, _ := dc["ACLsEnabled"].(bool); on {
		acl, _ := dc["ACLResolverSettings"].(map[string]any)
		if v, _ := acl["ACLDefaultPolicy"].(string); v == "deny" {
			p.defaultAllow = false
		}
	}
	return p
}

// connectState is the loop's Connect material: the agent policy, the CA
// roots and a leaf per local sidecar identity, each watched with a
// blocking query so rotation is pushed. Only the loop goroutine touches
// it.
type connectState struct {
	policy    *agentPolicy // nil until read
	roots     *api.CARootList
	leaves    map[string]discovery.Leaf // by service
	refresher *refresher                // nil until the first mesh catalog
	secrets   *discovery.Secrets        // of the last publish
	started   bool                      // the roots watcher
}

// leafRefresher returns the loop's leaf refresher, started on first use.
func (l *loop) leafRefresher(ctx context.Context) *refresher {
	c := &l.connect
	if c.refresher == nil {
		agent := l.src.client.Agent()
		c.refresher = newRefresher(leafPoll, leafFetchers,
			func(name string) (*api.LeafCert, error) {
				lc, _, err := agent.ConnectCALeaf(name, (&api.QueryOptions{}).WithContext(ctx))
				return lc, err
			}, l.in.putLeaf, l.src.logger)
		l.wg.Go(func() { c.refresher.run(ctx) })
	}
	return c.refresher
}

// leafPoll is how often every leaf is fetched again, and leafFetchers
// how many fetches run at once. Leaves come from the agent's cache, which
// renews them well before they expire, so polling finds renewals in time
// with a bounded number of connections; new roots trigger a fetch at once.
const (
	leafPoll     = 5 * time.Second
	leafFetchers = 4
)

// startPolicy reads the agent's policy, retrying with backoff until it
// succeeds or ctx is done. A token without agent:read gets a 403, which
// proves ACLs are on but not their default: the mesh then assumes
// Connect on and a default of deny, the safe reading, and says so.
func (l *loop) startPolicy(ctx context.Context) {
	agent := l.src.client.Agent()
	l.wg.Go(func() {
		for failures := 0; ctx.Err() == nil; {
			self, err := agent.Self()
			if err == nil {
				l.in.putPolicy(policyFromSelf(self))
				return
			}
			var status api.StatusError
			if errors.As(err, &status) && status.Code == http.StatusForbidden {
				l.src.logger.Warn("cannot read the agent's configuration (the token lacks agent:read): "+
					"assuming Connect on and a default intention policy of deny", "err", err)
				l.in.putPolicy(agentPolicy{connect: true})
				return
			}
			failures++
			logFailure(ctx, l.src.logger, "agent self", failures, err)
			sleep(ctx, backoff(failures, l.src.opts.minBackoff(), l.src.opts.maxBackoff()))
		}
	})
}

// startRoots watches the Connect CA roots.
func (l *loop) startRoots(ctx context.Context) {
	agent := l.src.client.Agent()
	startWatcher(ctx, l, "connect ca roots",
		func(q *api.QueryOptions) (*api.CARootList, *api.QueryMeta, error) { return agent.ConnectCARoots(q) },
		func(r *api.CARootList, _ uint64) { l.in.putRoots(r) })
}

// syncLeaves tells the leaf refresher the sidecar identities of cat (in
// the local datacenter, whose agent signs their leaves).
func (l *loop) syncLeaves(ctx context.Context, cat *discovery.Catalog) {
	if !cat.Mesh().Enabled() {
		return
	}
	var names []string
	for _, svc := range cat.Sidecars() {
		names = append(names, svc.SidecarIdentity())
	}
	l.leafRefresher(ctx).setNames(names)
}

// applyConnect takes the Connect results of b. A new trust domain or
// policy changes the catalog; new roots or leaves only its secrets. The
// roots are watched once the policy says Connect is on.
func (l *loop) applyConnect(ctx context.Context, b batch) (secretsChanged bool) {
	c := &l.connect
	if b.policy != nil {
		c.policy, l.changed = b.policy, true
		if c.policy.connect && !c.started && !l.src.opts.Plaintext {
			c.started = true
			l.startRoots(ctx)
		}
	}
	if b.roots != nil {
		if c.roots == nil || c.roots.TrustDomain != b.roots.TrustDomain {
			l.changed = true
		}
		c.roots, secretsChanged = b.roots, true
	}
	if b.roots != nil && c.refresher != nil {
		c.refresher.kick() // new roots: the agent signs new leaves
	}
	for name, lc := range b.leaves {
		if c.leaves == nil {
			c.leaves = make(map[string]discovery.Leaf)
		}
		if lc == nil {
			delete(c.leaves, name)
		} else {
			c.leaves[name] = discovery.Leaf{CertPEM: []byte(lc.CertPEM), KeyPEM: []byte(lc.PrivateKeyPEM)}
		}
		secretsChanged = true
	}
	return secretsChanged
}

// connectReady reports whether the first catalog may be built: once the
// agent's policy is known and, with Connect on, the roots are, so the
// first catalog is not a plaintext one.
func (l *loop) connectReady() bool {
	p := l.connect.policy
	return p != nil && (!p.connect || l.src.opts.Plaintext || l.connect.roots != nil)
}

// mesh returns the catalog's mesh: empty (plaintext) until the roots are
// known, or with Options.Plaintext.
func (l *loop) mesh() discovery.Mesh {
	c := &l.connect
	if c.roots == nil || c.roots.TrustDomain == "" || l.src.opts.Plaintext {
		return discovery.Mesh{}
	}
	m := discovery.Mesh{TrustDomain: c.roots.TrustDomain, Datacenter: l.local, DefaultAllow: true}
	if c.policy != nil {
		m.DefaultAllow = c.policy.defaultAllow
	}
	m.Intentions = intentions(l.entries[api.ServiceIntentions], l.src.logger)
	return m
}

// secrets returns the roots (every root Consul lists, so certificates
// from the old and new CA both verify during a rotation) and the leaves.
func (l *loop) secrets() *discovery.Secrets {
	c := &l.connect
	if c.roots == nil {
		return nil
	}
	var pem strings.Builder
	for _, r := range c.roots.Roots {
		pem.WriteString(strings.TrimSpace(r.RootCertPEM))
		pem.WriteByte('\n')
	}
	leaves := make(map[string]discovery.Leaf, len(c.leaves))
	for n, lf := range c.leaves {
		leaves[n] = lf
	}
	return discovery.NewSecrets([]byte(pem.String()), leaves)
}

// intentions maps service-intentions config entries to the catalog's
// intentions. Sources from peers, sameness groups, other namespaces or
// partitions, and permissions with JWT requirements are not supported and
// are skipped with a log.
func intentions(entries []api.ConfigEntry, logger *slog.Logger) []discovery.Intention {
	var out []discovery.Intention
	for _, e := range entries {
		si, ok := e.(*api.ServiceIntentionsConfigEntry)
		if !ok {
			continue
		}
		for _, s := range si.Sources {
			if s.Peer != "" || s.SamenessGroup != "" || !isDefault(s.Namespace) || !isDefault(s.Partition) {
				logger.Warn("skipping unsupported intention source (peer, sameness group, namespace or partition)",
					"destination", si.Name, "source", s.Name)
				continue
			}
			in := discovery.Intention{Source: s.Name, Destination: si.Name, Precedence: s.Precedence}
			if len(s.Permissions) == 0 {
				in.Action = discovery.Action(s.Action)
			} else {
				in.Permissions = permissions(si.Name, s, logger)
			}
			out = append(out, in)
		}
	}
	return out
}

func isDefault(s string) bool { return s == "" || s == "default" }

func permissions(dest string, s *api.SourceIntention, logger *slog.Logger) []discovery.Permission {
	out := make([]discovery.Permission, 0, len(s.Permissions))
	for _, p := range s.Permissions {
		if p == nil {
			continue
		}
		if p.JWT != nil {
			logger.Warn("skipping intention permission with a JWT requirement (not supported)",
				"destination", dest, "source", s.Name)
			continue
		}
		dp := discovery.Permission{Action: discovery.Action(p.Action)}
		if h := p.HTTP; h != nil {
			dp.PathExact, dp.PathPrefix, dp.PathRegex, dp.Methods = h.PathExact, h.PathPrefix, h.PathRegex, h.Methods
			for _, hd := range h.Header {
				dp.Headers = append(dp.Headers, discovery.HeaderMatch{Name: hd.Name, Present: hd.Present,
					Exact: hd.Exact, Prefix: hd.Prefix, Suffix: hd.Suffix, Regex: hd.Regex, Invert: hd.Invert})
			}
		}
		out = append(out, dp)
	}
	return out
}
