package client

import (
	"slices"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// acceptSotW merges a state-of-the-world response of kind k into a copy of
// the current state and commits it. On error nothing changed.
func (c *Client) acceptSotW(k kind, version string, anys []*anypb.Any) error {
	fresh, err := decodeAll(k, sotwItems(anys, version), c.cur.res[k])
	if err != nil {
		return err
	}
	next := c.cur.clone()
	next.merge(k, fresh, kinds[k].full, c.static)
	next.version[k] = version
	next.seen[k] = true
	return c.commit(next)
}

// acceptDelta merges an incremental response of kind k into a copy of the
// current state and commits it. On error nothing changed.
func (c *Client) acceptDelta(k kind, resp *discoveryv3.DeltaDiscoveryResponse) error {
	fresh, err := decodeAll(k, deltaItems(resp.GetResources()), c.cur.res[k])
	if err != nil {
		return err
	}
	next := c.cur.clone()
	next.merge(k, fresh, false, c.static)
	for _, name := range resp.GetRemovedResources() {
		delete(next.res[k], name)
	}
	next.version[k] = resp.GetSystemVersionInfo()
	next.seen[k] = true
	return c.commit(next)
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
	set, fp, err := next.build(c.static)
	if err != nil {
		return err
	}
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
