package l4

import (
	"context"
	"net"
	"time"

	"github.com/meshlb/meshlb/sidecar/stream"
)

// connInfo is the access log's view of a connection: a stream.Info the
// connection fills as it goes. Its methods do nothing on a nil
// *connInfo, the connection of a listener without access log.
type connInfo stream.Info

// newInfo starts the stream info of connection c of listener.
func newInfo(ctx context.Context, listener string, c net.Conn) *connInfo {
	i := &connInfo{Listener: listener, Start: time.Now(),
		Addrs: stream.Addrs{Downstream: stream.AddrPort(c.RemoteAddr()), Local: stream.AddrPort(c.LocalAddr())}}
	if sc := stream.ConnFrom(ctx); sc != nil {
		i.ConnID = sc.ID
		if sc.TLS != nil {
			i.ServerName = sc.TLS.ServerName
		}
	}
	return i
}

// log ends the connection's info and writes the access logs.
func (i *connInfo) log(cfg *Config) {
	i.Total = time.Since(i.Start)
	cfg.AccessLog.Log((*stream.Info)(i), nil)
}

func (i *connInfo) flag(f stream.Flags) {
	if i != nil {
		i.Flags |= f
	}
}

func (i *connInfo) cluster(name string) {
	if i != nil {
		i.Cluster = name
	}
}

// upstream records the endpoint connected to over up.
func (i *connInfo) upstream(addr string, up net.Conn) {
	if i != nil {
		i.Endpoint, i.Attempts = addr, 1
		i.Addrs.UpstreamLocal = stream.AddrPort(up.LocalAddr())
	}
}

func (i *connInfo) bytes(received, sent int64) {
	if i != nil {
		i.BytesReceived, i.BytesSent = received, sent
	}
}
