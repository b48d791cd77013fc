package l7

import (
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
	info.Addrs.Downstream = stream.AddrPort(s.conn.RemoteAddr())
	info.Addrs.Local = stream.AddrPort(s.conn.LocalAddr())
}
