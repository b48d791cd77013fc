package sidecar

import (
	"github.com/meshlb/meshlb/sidecar/filterchain"
	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/l4"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// Read-only views of a snapshot's running parts, for meshlb explain
// (sidecar/explain). None of them acts on a connection or a request.

// SelectChain returns the chain of l that would serve a connection
// described by ci, as the listener's handler selects it, with the trace
// of the match; nil when none would (the connection is closed).
func (l *Listener) SelectChain(ci *filterchain.ConnInfo) (*Chain, filterchain.Trace) {
	tr := l.handler.Trace(ci)
	switch {
	case tr.Chain >= 0:
		return l.Chains[tr.Chain], tr
	case l.Spec.Default != nil:
		return l.Chains[len(l.Chains)-1], tr
	}
	return nil, tr
}

// IsDefault reports whether ch is its listener's default_filter_chain.
func (ch *Chain) IsDefault() bool { return ch.key == "default" }

// HTTPConfig returns the forwarder's configuration of an HTTP chain (its
// route table and HTTP filters); nil for a TCP chain.
func (ch *Chain) HTTPConfig() *forward.Config {
	if ch.httpCfg == nil {
		return nil
	}
	return &ch.httpCfg.Config
}

// TCPConfig returns the TCP proxy's configuration of a TCP chain; nil for
// an HTTP chain.
func (ch *Chain) TCPConfig() *l4.Config { return ch.tcpCfg }

// NetworkFilters returns the chain's non-terminal network filters,
// aligned with Spec.Filters.
func (ch *Chain) NetworkFilters() []filterchain.Filter { return ch.filters }

// ClusterSpec returns the spec the snapshot's cluster name was built
// from and the overprovisioning factor of its load assignment (0: the
// default), or nil.
func (p *Snapshot) ClusterSpec(name string) (*spec.Cluster, uint32) {
	src, ok := p.sources[name]
	if !ok {
		return nil, 0
	}
	var factor uint32
	if src.la != nil {
		factor = src.la.Overprovisioning
	}
	return src.spec, factor
}
