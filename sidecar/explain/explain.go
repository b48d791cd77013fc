// Package explain says why a request or connection would go where it
// goes in a running sidecar: which listener and filter chain (each match
// criterion), which network filters act, which virtual host and route
// (each route tried and the matcher that failed), which HTTP filters act
// (RBAC decisions with their policy, rate limit state), which cluster
// (and weighted split), the hash, and the endpoint a pick would take now
// and why (policy, priority levels, panic mode, health, ejection,
// circuit breakers).
//
// It reads the sidecar's snapshot in force and asks the data plane's own
// code every question, through read-only hooks: filterchain.Matcher.Trace,
// route.Table.Trace, route.Route.HashTrace, the filters' Explain methods
// (rbac.Engine.Explain), balancer.Explain and balancer.Peek. It never
// matches by code of its own, so it cannot drift from what the data plane
// does, and it changes nothing: no counter, token bucket, round-robin
// turn or split schedule moves.
package explain

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/filterchain"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// ErrNoConfig means the sidecar has no configuration yet.
var ErrNoConfig = errors.New("the sidecar has no configuration yet")

// Explain explains q against the configuration sc has in force.
func Explain(sc *sidecar.Sidecar, q Query) (*Report, error) {
	snap := sc.Snapshot()
	if snap == nil {
		return nil, ErrNoConfig
	}
	return explain(snap, sc.Addresses(), q)
}

// explain explains q against snap, whose listeners are bound at bound
// (by name).
func explain(snap *sidecar.Snapshot, bound map[string]string, q Query) (*Report, error) {
	l, why, err := findListener(snap, bound, q)
	if err != nil {
		return nil, err
	}
	ci, conn := connInfo(l, bound[l.Spec.Name], q)
	r := &Report{Request: request(q, ci)}
	r.Listener = &ListenerStep{Name: l.Spec.Name, Address: l.Spec.Address, Why: why, Transport: transportWhy(l, q, ci)}
	ch := r.chain(l, ci)
	if ch == nil {
		return r, nil
	}
	conn.TLS = tlsOf(ch, q)
	if !r.networkFilters(ch, conn) {
		return r, nil
	}
	if hc := ch.HTTPConfig(); hc != nil {
		r.explainHTTP(snap, hc, conn, q)
		return r, nil
	}
	r.explainTCP(snap, ch)
	return r, nil
}

// findListener returns the listener q names, or the one its destination
// or URL leads to, and why.
func findListener(snap *sidecar.Snapshot, bound map[string]string, q Query) (*sidecar.Listener, string, error) {
	names := sortedNames(snap)
	if q.Listener != "" {
		if l := snap.Listeners[q.Listener]; l != nil {
			return l, "named by the query", nil
		}
		return nil, "", fmt.Errorf("no listener named %q (have %s)", q.Listener, strings.Join(names, ", "))
	}
	if to := destination(q); to.IsValid() {
		for _, n := range names {
			if l := snap.Listeners[n]; sameAddr(l.Spec.Address, to) || sameAddr(bound[n], to) {
				return l, "its address is the destination " + to.String(), nil
			}
		}
		for _, n := range names {
			if l := snap.Listeners[n]; wildcardPort(l.Spec.Address, to.Port()) || wildcardPort(bound[n], to.Port()) {
				return l, fmt.Sprintf("it listens on every address at port %d", to.Port()), nil
			}
		}
		return nil, "", fmt.Errorf("no listener at %s (have %s); name one with listener", to, listenerList(snap, bound, names))
	}
	if p := q.URL.Port(); p != "" {
		for _, n := range names {
			if addrPort(bound[n]) == p || addrPort(snap.Listeners[n].Spec.Address) == p {
				return snap.Listeners[n], "it listens on the URL's port " + p, nil
			}
		}
	}
	var fit []string
	for _, n := range names {
		if serves(snap.Listeners[n], q.IsHTTP()) {
			fit = append(fit, n)
		}
	}
	if len(fit) == 1 {
		return snap.Listeners[fit[0]], "the only listener with a " + kind(q) + " filter chain", nil
	}
	return nil, "", fmt.Errorf("%d listeners could take a %s request (%s); name one with listener or give the destination with to",
		len(fit), kind(q), listenerList(snap, bound, fit))
}

func kind(q Query) string {
	if q.IsHTTP() {
		return "HTTP"
	}
	return "TCP"
}

// serves reports whether l has a chain of the kind (HTTP or TCP).
func serves(l *sidecar.Listener, http bool) bool {
	for _, ch := range l.Chains {
		if (ch.HTTPConfig() != nil) == http {
			return true
		}
	}
	return false
}

func sortedNames(snap *sidecar.Snapshot) []string {
	var names []string
	for n := range snap.Listeners {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func listenerList(snap *sidecar.Snapshot, bound map[string]string, names []string) string {
	var out []string
	for _, n := range names {
		a := snap.Listeners[n].Spec.Address
		if b := bound[n]; b != "" && b != a {
			a += " bound " + b
		}
		out = append(out, n+" at "+a)
	}
	return strings.Join(out, ", ")
}

// destination is q's To, else its URL host when that is an IP address
// with a port (the scheme's default port otherwise).
func destination(q Query) netip.AddrPort {
	if q.To.IsValid() {
		return q.To
	}
	a, err := netip.ParseAddr(q.URL.Hostname())
	if err != nil {
		return netip.AddrPort{}
	}
	port := q.URL.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[q.URL.Scheme]
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a, uint16(p))
}

func sameAddr(addr string, to netip.AddrPort) bool {
	ap, err := netip.ParseAddrPort(addr)
	return err == nil && ap.Port() != 0 && ap.Port() == to.Port() && ap.Addr().Unmap() == to.Addr().Unmap()
}

func wildcardPort(addr string, port uint16) bool {
	ap, err := netip.ParseAddrPort(addr)
	return err == nil && ap.Port() == port && ap.Addr().IsUnspecified()
}

func addrPort(addr string) string {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || ap.Port() == 0 {
		return ""
	}
	return fmt.Sprint(ap.Port())
}

// connInfo returns what the listener's chain match and filters would know
// of q's connection. The destination is q's, else the listener's bound
// address (its configured one before it is bound), with a wildcard IP
// taken as 127.0.0.1.
func connInfo(l *sidecar.Listener, bound string, q Query) (filterchain.ConnInfo, *stream.Conn) {
	to := destination(q)
	if !to.IsValid() {
		to, _ = netip.ParseAddrPort(bound)
		if !to.IsValid() {
			to, _ = netip.ParseAddrPort(l.Spec.Address)
		}
		if to.Addr().IsUnspecified() {
			to = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), to.Port())
		}
	}
	ci := filterchain.ConnInfo{Local: to, Remote: q.From, DirectRemote: q.From, TransportProtocol: filterchain.RawBuffer}
	if q.isTLS() && l.Spec.TLSInspector != nil {
		ci.TransportProtocol, ci.ServerName, ci.ApplicationProtocols = "tls", q.sni(), q.ALPN
	}
	return ci, &stream.Conn{Local: to, Remote: q.From, DirectRemote: q.From}
}

func transportWhy(l *sidecar.Listener, q Query, ci filterchain.ConnInfo) string {
	switch {
	case q.isTLS() && l.Spec.TLSInspector != nil:
		return fmt.Sprintf("tls, server name %s, ALPN %s (read by the tls_inspector)", orNone(ci.ServerName), orNone(strings.Join(ci.ApplicationProtocols, ",")))
	case q.isTLS():
		return "raw_buffer: the listener has no tls_inspector, so its chains see neither TLS nor a server name"
	case l.Spec.TLSInspector != nil:
		return "raw_buffer: the tls_inspector finds no ClientHello"
	}
	return "raw_buffer"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return fmt.Sprintf("%q", s)
}

// tlsOf is the TLS state of q's connection once ch's transport socket
// has terminated it: the SNI and the client's certificate's URI SAN; nil
// when the chain serves plaintext.
func tlsOf(ch *sidecar.Chain, q Query) *stream.TLS {
	if ch.Spec.TLS == nil || !q.isTLS() {
		return nil
	}
	t := &stream.TLS{ServerName: q.sni()}
	if q.Principal != "" {
		t.PeerURIs = []string{q.Principal}
	}
	return t
}

func request(q Query, ci filterchain.ConnInfo) Request {
	return Request{Method: q.Method, URL: q.URL.String(), Headers: q.Headers, From: q.From.String(), To: ci.Local.String(),
		TLS: q.isTLS(), SNI: q.sni(), ALPN: q.ALPN, Principal: q.Principal}
}
