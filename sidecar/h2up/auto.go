package h2up

import (
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// Opener returns the [forward.Config.Mux] for clusters whose protocol is
// HTTP/2 ([Open]) or chosen by ALPN (spec.UpstreamAuto, Envoy's
// auto_config): for those, a new connection that negotiated "h2" joins
// the endpoint's HTTP/2 pool, and one that negotiated anything else is
// served by http1 (the HTTP/1 codec's exchange) and pooled as HTTP/1.
// Once an endpoint answered HTTP/1.1, its pooled HTTP/1 connections are
// used first, and a new connection is dialed only when none is idle, so
// the endpoint is asked by ALPN again on each new connection.
func Opener(http1 func(net.Conn) forward.Exchange) func(*cluster.Cluster, *cluster.Endpoint, time.Time) (forward.Exchange, bool, error) {
	return func(cl *cluster.Cluster, ep *cluster.Endpoint, deadline time.Time) (forward.Exchange, bool, error) {
		if cl.HTTP.Protocol != spec.UpstreamAuto {
			return Open(cl, ep, deadline)
		}
		return openAuto(cl, ep, deadline, http1)
	}
}

// openAuto opens an exchange to ep of an auto_config cluster.
func openAuto(cl *cluster.Cluster, ep *cluster.Endpoint, deadline time.Time, http1 func(net.Conn) forward.Exchange) (forward.Exchange, bool, error) {
	p := ep.Pool.Mux(newPool).(*pool)
	var (
		c      *conn
		reused bool
		err    error
	)
	if p.http1.Load() {
		if x := ep.Pool.GetAt(time.Now()); x != nil {
			return x.(forward.Exchange), true, nil
		}
		c, reused, err = p.dial(cl, ep, deadline)
	} else {
		c, reused, err = p.get(cl, ep, deadline)
	}
	var h1 *http1Conn
	if errors.As(err, &h1) {
		p.http1.Store(true)
		return http1(h1.Conn), false, nil
	}
	if err != nil {
		return nil, false, err
	}
	p.http1.Store(false)
	return newExchange(c), reused, nil
}

// http1Conn is the answer of a dial of an auto_config cluster whose
// connection negotiated a protocol other than h2: the connection, for
// the HTTP/1 codec.
type http1Conn struct{ net.Conn }

func (*http1Conn) Error() string { return "the connection negotiated HTTP/1.1" }

// negotiatedH2 reports whether c, as the cluster's transport returns it,
// negotiated "h2" by ALPN.
func negotiatedH2(c net.Conn) bool {
	for {
		switch v := c.(type) {
		case *tls.Conn:
			return v.ConnectionState().NegotiatedProtocol == "h2"
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return false
		}
	}
}
