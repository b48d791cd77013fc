package filterchain

import (
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TLSInspector reads the TLS ClientHello a client sends first, without
// consuming it, so that chains can match on server_names,
// application_protocols and transport_protocol "tls", as Envoy's
// envoy.filters.listener.tls_inspector. The bytes stay in the socket's
// receive queue (MSG_PEEK), so the terminal filter reads them as if
// nothing had looked, and its connection is still the *net.TCPConn (the
// TCP proxy keeps its splice, the HTTP server its parking).
type TLSInspector struct {
	// Timeout bounds the wait for the ClientHello (Envoy's
	// listener_filters_timeout); 0 waits as long as the client takes.
	Timeout time.Duration
	// ContinueOnTimeout serves a connection whose ClientHello has not
	// arrived in time as raw_buffer instead of closing it.
	ContinueOnTimeout bool
	// CloseOnParseError closes a connection whose first record is a
	// handshake but not a well-formed ClientHello, instead of serving it
	// as raw_buffer (close_connection_on_client_hello_parsing_errors).
	CloseOnParseError bool
	// Timeouts, when not nil, counts the connections whose ClientHello was
	// late (Envoy's listener.<address>.downstream_pre_cx_timeout).
	Timeouts *atomic.Uint64
	// Stats, when not nil, counts what the inspector found.
	Stats *InspectorStats
}

// InspectorStats are Envoy's tls_inspector.* counters.
type InspectorStats struct {
	TLSFound, TLSNotFound   *atomic.Uint64 // tls_found, tls_not_found
	SNIFound, SNINotFound   *atomic.Uint64 // sni_found, sni_not_found
	ALPNFound, ALPNNotFound *atomic.Uint64 // alpn_found, alpn_not_found
}

// NewInspectorStats returns the counters named tls_inspector.<stat>,
// taken from counter.
func NewInspectorStats(counter func(name string) *atomic.Uint64) *InspectorStats {
	c := func(stat string) *atomic.Uint64 { return counter("tls_inspector." + stat) }
	return &InspectorStats{
		TLSFound: c("tls_found"), TLSNotFound: c("tls_not_found"),
		SNIFound: c("sni_found"), SNINotFound: c("sni_not_found"),
		ALPNFound: c("alpn_found"), ALPNNotFound: c("alpn_not_found"),
	}
}

// count records what inspecting one connection found.
func (s *InspectorStats) count(tls bool, h *clientHello) {
	if s == nil {
		return
	}
	if !tls {
		s.TLSNotFound.Add(1)
		return
	}
	s.TLSFound.Add(1)
	found(len(h.serverName) > 0, s.SNIFound, s.SNINotFound)
	found(len(h.alpn) > 0, s.ALPNFound, s.ALPNNotFound)
}

func found(ok bool, yes, no *atomic.Uint64) {
	if ok {
		yes.Add(1)
	} else {
		no.Add(1)
	}
}

// errInspect means the connection must be closed.
var errInspect = errors.New("tls inspector: closing connection")

var helloBufs = sync.Pool{New: func() any { b := make([]byte, maxHelloRecordLen); return &b }}

// inspect fills ci's transport protocol, server name and application
// protocols from c's ClientHello, if c starts with one. It returns
// errInspect when c must be closed: the client left, the wait timed out
// (unless ContinueOnTimeout), or the hello is malformed and
// CloseOnParseError is set.
func (t *TLSInspector) inspect(c net.Conn, ci *ConnInfo) error {
	bp := helloBufs.Get().(*[]byte)
	defer helloBufs.Put(bp)
	var h clientHello
	st, err := t.peekHello(c, *bp, &h)
	if err != nil && isTimeout(err) && t.Timeouts != nil {
		t.Timeouts.Add(1)
	}
	switch {
	case err != nil && isTimeout(err) && t.ContinueOnTimeout:
		return nil
	case err != nil:
		return errInspect
	case st == helloBad && t.CloseOnParseError:
		t.Stats.count(false, &h)
		return errInspect
	case st != helloOK:
		t.Stats.count(false, &h)
		return nil
	}
	t.Stats.count(true, &h)
	ci.TransportProtocol = "tls"
	ci.ServerName = strings.ToLower(string(h.serverName))
	for _, p := range h.alpn {
		ci.ApplicationProtocols = append(ci.ApplicationProtocols, string(p))
	}
	return nil
}

// peekHello peeks at c until its first bytes parse as a ClientHello, show
// they are not one, or fill buf.
func (t *TLSInspector) peekHello(c net.Conn, buf []byte, h *clientHello) (helloStatus, error) {
	if t.Timeout > 0 {
		c.SetReadDeadline(time.Now().Add(t.Timeout))
		defer c.SetReadDeadline(time.Time{})
	}
	have := 0
	for {
		n, err := peek(c, buf, have)
		if err != nil {
			return helloNeedMore, err
		}
		have = n
		if st := parseClientHello(buf[:n], h); st != helloNeedMore {
			return st, nil
		}
		if n == len(buf) {
			return helloBad, nil
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
