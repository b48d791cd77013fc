package filterchain

import (
	"net/netip"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// Match returns the index of the chain that ci selects, or -1 when none
// does. It does not allocate.
func (m *Matcher) Match(ci *ConnInfo) int {
	if m == nil {
		return -1
	}
	n := m.root
	for lv := levelDstPort; lv < levelLeaf && n != nil; lv++ {
		n = n.step(lv, ci)
	}
	if n == nil {
		return -1
	}
	return n.chain
}

// step follows the branch of n that ci takes at level lv, or returns nil.
// Match and [Matcher.Trace] both walk the tree with it.
func (n *node) step(lv int, ci *ConnInfo) *node {
	switch lv {
	case levelDstPort:
		return n.byPort(ci.Local.Port())
	case levelDstIP:
		return n.byPrefix4or6(ci.Local.Addr())
	case levelServerName:
		return n.byServerName(ci.ServerName)
	case levelTransport:
		return n.byName(transport(ci))
	case levelALPN:
		return n.byALPN(ci.ApplicationProtocols)
	case levelDirectSrcIP:
		return n.byPrefix4or6(ci.DirectRemote.Addr())
	case levelSrcType:
		return n.bySourceType(ci)
	case levelSrcIP:
		return n.byPrefix4or6(ci.Remote.Addr())
	default: // levelSrcPort
		return n.byPort(ci.Remote.Port())
	}
}

func transport(ci *ConnInfo) string {
	if ci.TransportProtocol == "" {
		return RawBuffer
	}
	return ci.TransportProtocol
}

// byPort follows the exact port, else the any-port branch. A nil n stays
// nil, so the levels chain without checks.
func (n *node) byPort(p uint16) *node {
	if n == nil {
		return nil
	}
	if c := n.ports[p]; c != nil {
		return c
	}
	return n.ports[0]
}

// byPrefix4or6 follows the longest prefix holding a.
func (n *node) byPrefix4or6(a netip.Addr) *node {
	if n == nil {
		return nil
	}
	a = a.Unmap()
	for i := range n.prefixes {
		if n.prefixes[i].prefix.Contains(a) {
			return n.prefixes[i].next
		}
	}
	return nil
}

// byServerName follows the exact name, else the longest wildcard suffix
// ("*.example.com", then "*.com"), else the branch without server names.
func (n *node) byServerName(name string) *node {
	if n == nil {
		return nil
	}
	if c := n.names[name]; c != nil && name != "" {
		return c
	}
	for i := 1; i < len(name)-1; i++ {
		if name[i] != '.' {
			continue
		}
		if c := n.names[name[i:]]; c != nil {
			return c
		}
	}
	return n.names[""]
}

// byName follows the exact value, else the branch without one.
func (n *node) byName(v string) *node {
	if n == nil {
		return nil
	}
	if c := n.names[v]; c != nil {
		return c
	}
	return n.names[""]
}

// byALPN follows the first protocol the client offered that a chain
// names, else the branch without application protocols.
func (n *node) byALPN(offered []string) *node {
	if n == nil {
		return nil
	}
	for _, p := range offered {
		if c := n.names[p]; c != nil && p != "" {
			return c
		}
	}
	return n.names[""]
}

// bySourceType follows the local or external branch when the connection
// is of that type and the branch exists, else the any branch.
func (n *node) bySourceType(ci *ConnInfo) *node {
	if n == nil {
		return nil
	}
	local, external := n.types[spec.SourceLocal], n.types[spec.SourceExternal]
	if local != nil || external != nil {
		if isLocal(ci) {
			if local != nil {
				return local
			}
		} else if external != nil {
			return external
		}
	}
	return n.types[spec.SourceAny]
}

// isLocal reports whether the peer is a loopback address or the
// connection's own local address, as Envoy's isSameIpOrLoopback.
func isLocal(ci *ConnInfo) bool {
	r := ci.Remote.Addr().Unmap()
	return r.IsLoopback() || r == ci.Local.Addr().Unmap()
}
