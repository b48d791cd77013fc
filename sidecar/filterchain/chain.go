package filterchain

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// Terminal is the last filter of a chain: it owns the connection it is
// given and must close it (as listener.Handler).
type Terminal interface {
	ServeConn(ctx context.Context, c net.Conn)
}

// Transport wraps an accepted connection in the chain's transport socket
// (a TLS handshake, say) and returns the connection to serve, or an error
// after which the raw connection is closed. It must honour ctx.
type Transport func(ctx context.Context, c net.Conn) (net.Conn, error)

// Chain is one filter chain of a listener in one configuration.
// Immutable once handed to [NewHandler].
type Chain struct {
	Name    string
	Filters []Filter
	// Transport wraps connections before the terminal filter sees them;
	// nil means plaintext. The TLS transport socket will fill it.
	Transport Transport
	Terminal  Terminal
	// LocalURIs are the URI SANs of the certificate the transport socket
	// presents (the local SPIFFE ID), for [stream.TLS].
	LocalURIs []string
}

// Handler serves one listener's connections: it selects the chain for
// each, runs the chain's filters and hands the connection to its terminal
// filter. Immutable and safe for concurrent use.
type Handler struct {
	matcher   *Matcher
	chains    []*Chain
	def       *Chain
	noMatch   *atomic.Uint64
	inspector *TLSInspector // nil: no ClientHello inspection
}

// NewHandler returns the handler for chains, matched by ms (ms[i] selects
// chains[i]), with def for connections none matches (nil: close them).
// noMatch counts the connections closed because no chain matched
// (Envoy's listener no_filter_chain_match); it may be nil.
func NewHandler(ms []spec.FilterChainMatch, chains []*Chain, def *Chain, noMatch *atomic.Uint64) (*Handler, error) {
	m, err := Compile(ms)
	if err != nil {
		return nil, err
	}
	if noMatch == nil {
		noMatch = new(atomic.Uint64)
	}
	return &Handler{matcher: m, chains: chains, def: def, noMatch: noMatch}, nil
}

// WithTLSInspector returns a copy of h that inspects each connection's
// TLS ClientHello with t before selecting its chain.
func (h *Handler) WithTLSInspector(t *TLSInspector) *Handler {
	out := *h
	out.inspector = t
	return &out
}

// Select returns the chain for a connection described by ci, or nil.
func (h *Handler) Select(ci *ConnInfo) *Chain {
	if i := h.matcher.Match(ci); i >= 0 {
		return h.chains[i]
	}
	return h.def
}

// ServeConn selects c's chain and serves c with it; c is closed at once
// when no chain matches, a filter closes it, or the TLS inspector gives up
// on it.
func (h *Handler) ServeConn(ctx context.Context, c net.Conn) {
	ci := ConnInfo{TransportProtocol: RawBuffer}
	ci.Local = addrPort(c.LocalAddr())
	ci.Remote = addrPort(c.RemoteAddr())
	ci.DirectRemote = ci.Remote
	if h.inspector != nil && h.inspector.inspect(c, &ci) != nil {
		c.Close()
		return
	}
	ch := h.Select(&ci)
	if ch == nil {
		h.noMatch.Add(1)
		c.Close()
		return
	}
	ch.serve(ctx, c, &ci)
}

// addrPort returns a's IP and port, or the zero value for a non-IP
// address.
func addrPort(a net.Addr) netip.AddrPort {
	if ap, ok := a.(interface{ AddrPort() netip.AddrPort }); ok {
		return ap.AddrPort()
	}
	return netip.AddrPort{}
}

// ServeConn runs the chain on c: each filter's OnNewConnection in order,
// then the transport socket, then each [ConnFilter]'s OnConnected, then
// the terminal filter, which owns c from then on and finds the
// connection's [stream.Conn] in its context.
func (ch *Chain) ServeConn(ctx context.Context, c net.Conn) {
	ci := ConnInfo{Local: addrPort(c.LocalAddr()), Remote: addrPort(c.RemoteAddr())}
	ci.DirectRemote = ci.Remote
	ch.serve(ctx, c, &ci)
}

func (ch *Chain) serve(ctx context.Context, c net.Conn, ci *ConnInfo) {
	var data []DataFilter
	for _, f := range ch.Filters {
		if f.OnNewConnection(c) == Close {
			c.Close()
			return
		}
		if tr, ok := f.(Tracker); ok {
			c = tr.Track(c)
		}
		if df, ok := f.(DataFilter); ok {
			data = append(data, df)
		}
	}
	if len(data) > 0 {
		c = &dataConn{Conn: c, filters: data}
	}
	if ch.Transport != nil {
		tc, err := ch.Transport(ctx, c)
		if err != nil {
			c.Close()
			return
		}
		c = tc
	}
	sc := &stream.Conn{ID: stream.NextConnID(), Local: ci.Local, Remote: ci.Remote, DirectRemote: ci.DirectRemote}
	if tc, ok := c.(*tls.Conn); ok {
		cs := tc.ConnectionState()
		sc.TLS = stream.NewTLS(&cs, ch.LocalURIs)
	}
	for _, f := range ch.Filters {
		if cf, ok := f.(ConnFilter); ok && cf.OnConnected(sc) == Close {
			c.Close()
			return
		}
	}
	ch.Terminal.ServeConn(stream.WithConn(ctx, sc), c)
}
