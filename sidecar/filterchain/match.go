package filterchain

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// ConnInfo is what filter-chain matching knows of a connection.
type ConnInfo struct {
	// Local is the connection's original destination: the listener's
	// local address (there is no iptables redirect yet).
	Local netip.AddrPort
	// Remote is the peer, DirectRemote the directly connected peer; they
	// differ only when a listener filter (PROXY protocol) rewrites Remote.
	Remote, DirectRemote netip.AddrPort
	// ServerName is the TLS SNI, lower case, or "".
	ServerName string
	// TransportProtocol is "raw_buffer" unless a listener filter detected
	// another, such as "tls".
	TransportProtocol string
	// ApplicationProtocols are the ALPN values the client offered.
	ApplicationProtocols []string
}

// RawBuffer is the transport protocol of a connection no listener filter
// inspected, as Envoy names it.
const RawBuffer = "raw_buffer"

// Matcher selects a filter chain for a connection by Envoy's
// FilterChainMatch rules. At each criterion, in the order destination
// port, destination IP, server name, transport protocol, application
// protocols, directly connected source IP, source type, source IP and
// source port, only the chains with the most specific value that matches
// stay candidates; a chain that leaves a criterion empty matches any value
// there. The search never backs out of a choice made at an earlier
// criterion: a connection that matches a specific destination port but
// none of that port's chains matches nothing, even if a chain for any
// port would fit.
//
// A Matcher is immutable and safe for concurrent use; Match does not
// allocate.
type Matcher struct{ root *node }

// node is one level of the match tree. Which fields are used depends on
// the level; a leaf holds the index of its chain.
type node struct {
	ports    map[uint16]*node // destination or source port; 0: any
	names    map[string]*node // server name (".suffix" for "*.suffix"), transport or application protocol; "": any
	prefixes []prefixNode     // destination or source IP, longest prefix first
	types    [3]*node         // by spec.SourceType
	chain    int              // leaf
	byPrefix map[netip.Prefix]*node
}

type prefixNode struct {
	prefix netip.Prefix
	next   *node
}

// The levels of the match tree, in Envoy's order.
const (
	levelDstPort = iota
	levelDstIP
	levelServerName
	levelTransport
	levelALPN
	levelDirectSrcIP
	levelSrcType
	levelSrcIP
	levelSrcPort
	levelLeaf
)

// OverlapError reports two filter chains that match the same connections.
type OverlapError struct{ First, Second int }

func (e *OverlapError) Error() string {
	return fmt.Sprintf("filter chains %d and %d have overlapping matching rules", e.First, e.Second)
}

// Compile builds the matcher for chains whose criteria are ms; Match
// returns an index into ms. Two chains that would match the same
// connection by the same rules are an [*OverlapError], as in Envoy.
func Compile(ms []spec.FilterChainMatch) (*Matcher, error) {
	root := newNode()
	for i := range ms {
		if err := root.insert(levelDstPort, &ms[i], i); err != nil {
			return nil, err
		}
	}
	root.finish()
	return &Matcher{root: root}, nil
}

func newNode() *node { return &node{chain: -1} }

// insert adds chain i, whose criteria are m, under n at level lv.
func (n *node) insert(lv int, m *spec.FilterChainMatch, i int) error {
	if lv == levelLeaf {
		if n.chain >= 0 {
			return &OverlapError{First: n.chain, Second: i}
		}
		n.chain = i
		return nil
	}
	for _, child := range n.children(lv, m) {
		if err := child.insert(lv+1, m, i); err != nil {
			return err
		}
	}
	return nil
}

// children returns the child nodes of n for the values m has at level lv,
// creating them as needed.
func (n *node) children(lv int, m *spec.FilterChainMatch) []*node {
	switch lv {
	case levelDstPort:
		return n.portChildren([]uint16{m.DestinationPort})
	case levelDstIP:
		return n.prefixChildren(m.PrefixRanges)
	case levelServerName:
		names := make([]string, len(m.ServerNames))
		for i, s := range m.ServerNames {
			names[i] = strings.TrimPrefix(s, "*")
		}
		return n.nameChildren(names)
	case levelTransport:
		return n.nameChildren([]string{m.TransportProtocol})
	case levelALPN:
		return n.nameChildren(m.ApplicationProtocols)
	case levelDirectSrcIP:
		return n.prefixChildren(m.DirectSourcePrefixes)
	case levelSrcType:
		return []*node{getOrNew(&n.types[m.SourceType])}
	case levelSrcIP:
		return n.prefixChildren(m.SourcePrefixRanges)
	default: // levelSrcPort
		return n.portChildren(m.SourcePorts)
	}
}

func getOrNew(p **node) *node {
	if *p == nil {
		*p = newNode()
	}
	return *p
}

func (n *node) portChildren(ports []uint16) []*node {
	if len(ports) == 0 {
		ports = []uint16{0}
	}
	if n.ports == nil {
		n.ports = map[uint16]*node{}
	}
	out := make([]*node, 0, len(ports))
	for _, p := range ports {
		c := n.ports[p]
		if c == nil {
			c = newNode()
			n.ports[p] = c
		}
		out = appendNew(out, c)
	}
	return out
}

func (n *node) nameChildren(names []string) []*node {
	if len(names) == 0 {
		names = []string{""}
	}
	if n.names == nil {
		n.names = map[string]*node{}
	}
	out := make([]*node, 0, len(names))
	for _, s := range names {
		c := n.names[s]
		if c == nil {
			c = newNode()
			n.names[s] = c
		}
		out = appendNew(out, c)
	}
	return out
}

// catchAll is what an empty list of prefixes means, as in Envoy.
var catchAll = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}

func (n *node) prefixChildren(ps []netip.Prefix) []*node {
	if len(ps) == 0 {
		ps = catchAll
	}
	if n.byPrefix == nil {
		n.byPrefix = map[netip.Prefix]*node{}
	}
	out := make([]*node, 0, len(ps))
	for _, p := range ps {
		p = p.Masked()
		c := n.byPrefix[p]
		if c == nil {
			c = newNode()
			n.byPrefix[p] = c
		}
		out = appendNew(out, c)
	}
	return out
}

// appendNew appends c unless a repeated value in the configuration put it
// there already.
func appendNew(out []*node, c *node) []*node {
	if slices.Contains(out, c) {
		return out
	}
	return append(out, c)
}

// finish turns the prefix maps built by insert into lists, longest prefix
// first, for the whole subtree.
func (n *node) finish() {
	for p, c := range n.byPrefix {
		n.prefixes = append(n.prefixes, prefixNode{prefix: p, next: c})
	}
	n.byPrefix = nil
	slices.SortFunc(n.prefixes, func(a, b prefixNode) int { return cmp.Compare(b.prefix.Bits(), a.prefix.Bits()) })
	for _, c := range n.ports {
		c.finish()
	}
	for _, c := range n.names {
		c.finish()
	}
	for _, pn := range n.prefixes {
		pn.next.finish()
	}
	for _, c := range n.types {
		if c != nil {
			c.finish()
		}
	}
}
