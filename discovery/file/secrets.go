package file

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/meshlb/meshlb/discovery"
	"github.com/meshlb/meshlb/discovery/ca"
)

// LeafTTL is how long the leaves a Source issues are valid, as Consul's
// default leaf_cert_ttl; they are renewed at half their life.
const LeafTTL = 72 * time.Hour

// renewCheck is how often a Source checks its leaves' age.
const renewCheck = time.Hour

// issuer is a Source's CA: it attaches to each catalog with mTLS the
// roots and a leaf per sidecar identity, issued by the CA the catalog's
// mesh names and renewed at half life. Its methods are serialized by mu,
// which also serializes publish.
type issuer struct {
	mu      sync.Mutex
	logger  *slog.Logger
	publish func(*discovery.Catalog)
	files   *discovery.CAFiles // of ca
	ca      *ca.CA
	leaves  map[string]issued // by SPIFFE ID
	last    *discovery.Catalog
}

type issued struct {
	leaf  discovery.Leaf
	renew time.Time
}

// offer publishes c with its secrets; a catalog whose CA cannot be loaded
// is logged and not published, so the last good one stays.
func (is *issuer) offer(c *discovery.Catalog) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.last = c
	is.publishLocked(time.Now())
}

// renew republishes the last catalog if a leaf is due for renewal.
func (is *issuer) renew(now time.Time) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.last == nil || !is.last.Mesh().Enabled() {
		return
	}
	for _, l := range is.leaves {
		if now.After(l.renew) {
			is.publishLocked(now)
			return
		}
	}
}

func (is *issuer) publishLocked(now time.Time) {
	c := is.last
	if !c.Mesh().Enabled() {
		is.publish(c)
		return
	}
	s, err := is.secrets(c, now)
	if err != nil {
		is.logger.Error("issuing mesh certificates, keeping the last catalog", "err", err)
		return
	}
	is.publish(c.WithSecrets(s))
}

// secrets returns the roots and a leaf for every sidecar identity of c.
func (is *issuer) secrets(c *discovery.Catalog, now time.Time) (*discovery.Secrets, error) {
	m := c.Mesh()
	if err := is.loadCA(m); err != nil {
		return nil, err
	}
	leaves := make(map[string]discovery.Leaf)
	keep := make(map[string]issued)
	for _, svc := range c.Sidecars() {
		name := svc.SidecarIdentity()
		id := m.SPIFFEID(name, svc.Datacenter)
		l, ok := is.leaves[id]
		if !ok || now.After(l.renew) {
			leaf, err := is.ca.Issue(id, LeafTTL)
			if err != nil {
				return nil, err
			}
			l = issued{leaf: leaf, renew: now.Add(LeafTTL / 2)}
		}
		keep[id], leaves[name] = l, l.leaf
	}
	is.leaves = keep
	return discovery.NewSecrets(is.ca.RootsPEM(), leaves), nil
}

// loadCA loads, or generates, the CA m names, unless it is loaded.
func (is *issuer) loadCA(m *discovery.Mesh) error {
	f := discovery.CAFiles{}
	if m.CA != nil {
		f = *m.CA
	}
	if is.ca != nil && is.files != nil && *is.files == f {
		return nil
	}
	var c *ca.CA
	var err error
	switch {
	case f.Cert != "":
		c, err = ca.Load(f.Cert, f.Key)
	case f.StateDir != "":
		c, err = ca.LoadOrGenerate(f.StateDir, m.TrustDomain)
	default:
		c, err = ca.Generate(m.TrustDomain)
	}
	if err != nil {
		return fmt.Errorf("loading the mesh CA: %w", err)
	}
	is.ca, is.files, is.leaves = c, &f, nil
	return nil
}

// runIssuer runs run with a publish that attaches secrets, and renews
// leaves every renewCheck until run returns.
func runIssuer(ctx context.Context, logger *slog.Logger, publish func(*discovery.Catalog),
	run func(publish func(*discovery.Catalog)) error) error {
	is := &issuer{logger: logger, publish: publish}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(renewCheck)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				is.renew(now)
			}
		}
	})
	err := run(is.offer)
	cancel()
	wg.Wait()
	return err
}
