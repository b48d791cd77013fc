package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/meshlb/meshlb/discovery"
)

// Run runs src and applies the catalogs it publishes with [Server.Update]
// on a single goroutine. Catalogs pass through a one-slot handoff where the
// latest value wins, so a burst costs at most one rebuild, and a catalog
// whose Version (and secrets' version) equals the last one applied
// successfully is skipped. Update
// errors are logged; the nodes concerned keep their previous snapshots.
//
// Run returns nil once ctx is done, after its goroutine has exited. If src
// stops first, Run applies the catalog still pending and returns src's
// error, wrapped, or nil if there was none.
func (s *Server) Run(ctx context.Context, src discovery.Source) error {
	slot := make(chan *discovery.Catalog, 1)
	srcDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { s.applyLoop(ctx, slot, srcDone) })
	err := src.Run(ctx, func(c *discovery.Catalog) { offer(slot, c) })
	close(srcDone)
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("running discovery source: %w", err)
	}
	return nil
}

// offer puts c in slot, replacing any catalog not yet taken. It never blocks.
func offer(slot chan *discovery.Catalog, c *discovery.Catalog) {
	for {
		select {
		case slot <- c:
			return
		default:
		}
		select {
		case <-slot: // drop the stale catalog
		default:
		}
	}
}

// applyLoop applies catalogs from slot until ctx is done, or until srcDone
// is closed and the pending catalog, if any, has been applied.
func (s *Server) applyLoop(ctx context.Context, slot <-chan *discovery.Catalog, srcDone <-chan struct{}) {
	var last string
	apply := func(c *discovery.Catalog) {
		v := c.Version() + "/" + c.Secrets().Version()
		if v == last {
			return
		}
		if err := s.Update(ctx, c); err != nil {
			s.logger.LogAttrs(ctx, slog.LevelError, "applying catalog",
				slog.String("version", c.Version()), slog.Any("err", err))
			return
		}
		last = v
	}
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-slot:
			apply(c)
		case <-srcDone:
			select {
			case c := <-slot:
				apply(c)
			default:
			}
			return
		}
	}
}
