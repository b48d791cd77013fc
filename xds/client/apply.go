package client

import (
	"errors"
	"slices"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshlb/meshlb/sidecar/config"
)

// acceptSotW merges a state-of-the-world response of kind k into a copy of
// the current state and commits it. Resources are accepted or rejected one
// by one, as in Envoy: the good ones are committed, a rejected one keeps
// its previous version if it had one, and the returned error (the NACK)
// names every rejected resource. If the commit itself fails, nothing
// changed.
func (c *Client) acceptSotW(k kind, version string, anys []*anypb.Any) error {
	fresh, bad := decodeAll(k, sotwItems(anys, version), c.cur.res[k])
	bad = append(bad, c.validate(k, fresh)...)
	if kinds[k].full {
		for _, b := range bad {
			if p := c.cur.res[k][b.name]; p != nil {
				fresh[b.name] = p
			}
		}
	}
	next := c.cur.clone()
	next.merge(k, fresh, kinds[k].full, c.static)
	if len(bad) == 0 {
		// A NACK carries the last version accepted whole, as Envoy's.
		next.version[k] = version
	}
	next.seen[k] = true
	return c.commitPartial(next, bad)
}

// acceptDelta merges an incremental response of kind k into a copy of the
// current state and commits it, accepting and rejecting resources one by
// one as acceptSotW does. A rejected resource keeps the version the client
// had, which is also what it reports in initial_resource_versions on the
// next stream, so the server sends the resource again then.
func (c *Client) acceptDelta(k kind, resp *discoveryv3.DeltaDiscoveryResponse) error {
	fresh, bad := decodeAll(k, deltaItems(resp.GetResources()), c.cur.res[k])
	bad = append(bad, c.validate(k, fresh)...)
	next := c.cur.clone()
	next.merge(k, fresh, false, c.static)
	for _, name := range resp.GetRemovedResources() {
		delete(next.res[k], name)
	}
	next.invalidate(k)
	next.version[k] = resp.GetSystemVersionInfo()
	next.seen[k] = true
	return c.commitPartial(next, bad)
}

// validate applies Envoy's validate_clusters to fresh listeners (inline
// route configurations) and route configurations (when they ask for it)
// against the clusters the client has received; it removes the ones that
// fail from fresh and returns them.
func (c *Client) validate(k kind, fresh map[string]*resource) []badResource {
	var check func(*resource) error
	switch k {
	case kindListener:
		check = func(r *resource) error {
			return config.ValidateListenerClusters(r.spec.(*config.Listener), c.hasCluster)
		}
	case kindRoute:
		check = func(r *resource) error {
			return config.ValidateRouteClusters(r.spec.(*config.RouteConfig), c.hasCluster)
		}
	default:
		return nil
	}
	var bad []badResource
	for name, r := range fresh {
		if err := check(r); err != nil {
			bad = append(bad, badResource{name, err})
			delete(fresh, name)
		}
	}
	return bad
}

// hasCluster reports whether a cluster of that name is static or was
// received (active or warming), as Envoy's validate_clusters checks it.
func (c *Client) hasCluster(name string) bool {
	if c.cur.res[kindCluster][name] != nil {
		return true
	}
	return slices.ContainsFunc(c.static.Clusters, func(s config.Cluster) bool { return s.Name == name })
}

// commitPartial commits next, which leaves out the bad resources of the
// response, and returns the NACK error naming them, or nil. If the commit
// fails, nothing changed and the error says why as well.
func (c *Client) commitPartial(next *state, bad []badResource) error {
	if err := c.commit(next); err != nil {
		return errors.Join(nackError(bad), err)
	}
	return nackError(bad)
}

// commit makes next the current state. It settles warming, builds the Set
// and hands it to the Applier, unless it equals the last one applied or the
// first configuration is not complete yet (see [Client.initDone]). If
// building or applying fails, it returns the error and the current state is
// unchanged. After a successful Apply the state is persisted.
func (c *Client) commit(next *state) error {
	next.settle(c.static)
	if !c.applied && !c.initDone(next) {
		c.cur = next
		return nil
	}
	set, fp := next.build(c.static, &c.built)
	if c.applied && slices.Equal(fp, c.fp) {
		c.cur = next
		return nil
	}
	if err := c.applier.Apply(set); err != nil {
		return err
	}
	if !c.applied {
		close(c.ready)
	}
	c.cur, c.fp, c.applied = next, fp, true
	c.save(next)
	return nil
}

// initDone reports whether s may be the first configuration applied. As in
// Envoy's initialization, that is once listeners and clusters have been
// received and none of them is warming, or, if something stays warming,
// once Options.InitialFetchTimeout has passed; Ready is closed then.
func (c *Client) initDone(s *state) bool {
	if !s.seen[kindListener] || !s.seen[kindCluster] {
		return false
	}
	return !s.warming() || !time.Now().Before(c.initDeadline)
}

// initTimer returns a channel that receives at the initial fetch deadline,
// or nil once a configuration was applied, and a func to release it.
func (c *Client) initTimer() (<-chan time.Time, func()) {
	if c.applied {
		return nil, func() {}
	}
	t := time.NewTimer(time.Until(c.initDeadline))
	return t.C, func() { t.Stop() }
}

// initTimeout applies what is active when the initial fetch timed out.
// There is no response to NACK if that fails: the error is logged and the
// next response tries again.
func (c *Client) initTimeout() {
	if c.applied || !c.cur.seen[kindListener] || !c.cur.seen[kindCluster] {
		return
	}
	if err := c.commit(c.cur.clone()); err != nil {
		c.log.Warn("cannot apply the initial configuration", "err", err)
	}
}
