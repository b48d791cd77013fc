package rbac

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// denyLogInterval is the least time between two denial log lines of one
// filter.
const denyLogInterval = time.Second

// denyLog logs denials, at most one line per [denyLogInterval] per
// filter, each with the number of denials left out since the line
// before: a flood of denied callers costs a counter, not a line each.
// Allowed decisions never reach it.
type denyLog struct {
	logger  *slog.Logger // nil: no logging
	filter  string       // the filter's stat prefix, naming it in the line
	next    atomic.Int64 // unix nanoseconds before which denials are only counted
	skipped atomic.Uint64
}

// denied logs in's denial by e, unless a line was logged less than
// denyLogInterval ago; then it only counts it.
func (d *denyLog) denied(e *Engine, in *Input) {
	if d.logger == nil {
		return
	}
	now := time.Now().UnixNano()
	next := d.next.Load()
	if now < next || !d.next.CompareAndSwap(next, now+int64(denyLogInterval)) {
		d.skipped.Add(1)
		return
	}
	policy, ok := e.Match(in)
	if !ok {
		policy = "none"
	}
	attrs := []slog.Attr{slog.String("filter", d.filter), slog.String("matched_policy", policy),
		slog.Uint64("denials_not_logged", d.skipped.Swap(0))}
	if c := in.Conn; c != nil {
		attrs = append(attrs, slog.String("remote", c.Remote.String()))
		if c.TLS != nil && len(c.TLS.PeerURIs) > 0 {
			attrs = append(attrs, slog.String("principal", c.TLS.PeerURIs[0]))
		}
	}
	if r := in.Request; r != nil {
		attrs = append(attrs, slog.String("method", string(r.Method)), slog.String("path", string(r.Path)))
	}
	d.logger.LogAttrs(context.Background(), slog.LevelInfo, "rbac: access denied", attrs...)
}
