// Package filterchain selects a listener's filter chain for each accepted
// connection and runs its network filters: the non-terminal ones in order,
// then the terminal one (the TCP proxy or the HTTP connection manager).
//
// Matching follows Envoy's FilterChainMatch rules ([Matcher]). Network
// filters are plug-ins registered by Envoy type URL ([Register], [Get]),
// built from plain spec configurations; this package registers Envoy's
// network local rate limit and RBAC filters.
package filterchain

import (
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"

	"github.com/meshlb/meshlb/sidecar/stream"
)

// Status says whether a filter lets a connection go on.
type Status int

// Filter statuses.
const (
	Continue Status = iota // run the next filter
	Close                  // close the connection at once
)

// Filter is a non-terminal network filter. OnNewConnection is called once
// for each connection of its chain, before the transport socket's
// handshake and the terminal filter, and must not block or do I/O on c.
// A Filter is shared by all connections of its chain and must be safe for
// concurrent use.
type Filter interface {
	OnNewConnection(c net.Conn) Status
}

// DataFilter is a Filter that also sees the bytes the client sends:
// OnData is called with each chunk read from the connection before the
// terminal filter gets it, and Close ends the connection. A chain holding
// a DataFilter hands its terminal filter a wrapped connection, which costs
// the TCP proxy its splice; filters that only need OnNewConnection should
// not implement it.
type DataFilter interface {
	Filter
	OnData(c net.Conn, p []byte) Status
}

// ConnFilter is a Filter that also decides once the connection's
// transport socket is up: OnConnected is called with the connection's
// facts (its addresses and TLS peer certificate) after the handshake and
// before the terminal filter reads a byte, and [Close] closes the
// connection at once. It must not block.
type ConnFilter interface {
	Filter
	OnConnected(c *stream.Conn) Status
}

// Tracker is a Filter that follows an admitted connection to its end:
// when its OnNewConnection lets a connection go on, Track is called at
// once and returns the connection the rest of the chain, the transport
// socket and the terminal filter use (the same connection, wrapped to see
// its Close). It must not block or do I/O.
type Tracker interface {
	Filter
	Track(c net.Conn) net.Conn
}

// Env is what a [Builder] gets besides the filter's configuration.
type Env struct {
	// Listener is the name of the listener the filter belongs to.
	Listener string
	// Counter returns the counter with an Envoy stat name, such as
	// "local_ratelimit.ingress.rate_limited"; counters outlive snapshots.
	Counter func(name string) *atomic.Uint64
	// Logger is for what a filter decides that an operator must see (an
	// RBAC denial), rate limited by the filter; nil: none.
	Logger *slog.Logger
	// Prev is the filter built at the same place (listener, chain,
	// position, type) in the previous configuration, or nil. A builder may
	// carry state over from it, as a rate limiter keeps its bucket when its
	// settings are unchanged.
	Prev Filter
}

// Builder builds network filters of one type from their spec
// configuration.
type Builder interface {
	// TypeURL is the Envoy type URL the builder is registered under.
	TypeURL() string
	// Build returns a filter for cfg, the spec type the decoder produced
	// for TypeURL (e.g. *spec.LocalRateLimit).
	Build(cfg any, env Env) (Filter, error)
}

var builders = map[string]Builder{}

// Register makes b available under its type URL. It must be called from
// init functions only; registering a type URL twice panics.
func Register(b Builder) {
	if _, dup := builders[b.TypeURL()]; dup {
		panic(fmt.Sprintf("filterchain: network filter %q registered twice", b.TypeURL()))
	}
	builders[b.TypeURL()] = b
}

// Get returns the builder registered under typeURL, or nil.
func Get(typeURL string) Builder { return builders[typeURL] }
