package l7

import (
	"net"
	"net/netip"

	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/stream"
)

var _ forward.Describer = (*session)(nil)

// Describe implements [forward.Describer]: the request's HTTP version and
// the connection's addresses. It does not allocate.
func (s *session) Describe(info *stream.Info) {
	info.Protocol = "HTTP/1.0"
	if s.head.http11 {
		info.Protocol = "HTTP/1.1"
	}
	info.Addrs.Downstream = addrPort(s.conn.RemoteAddr())
	info.Addrs.Local = addrPort(s.conn.LocalAddr())
}

// addrPort returns a TCP address as a netip.AddrPort, IPv4 unmapped.
func addrPort(a net.Addr) netip.AddrPort {
	t, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}
	}
	ap := t.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
