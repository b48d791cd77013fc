package forward

import (
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// xfccName is the header's name, as the forwarder adds it.
var xfccName = []byte("x-forwarded-client-cert")

// clientCert applies the connection manager's forward_client_cert_details
// to the request's x-forwarded-client-cert header, before the route
// match, as Envoy's connection manager does
// (ConnectionManagerUtility::mutateXfccRequestHeader): kept as is with
// ALWAYS_FORWARD_ONLY, removed with SANITIZE or when the connection is
// not mutual TLS, kept with FORWARD_ONLY, and otherwise set to (or, with
// APPEND_FORWARD, appended with) this hop's element. It allocates only
// the first time a connection's digests are asked for.
func (f *forwarder) clientCert() {
	x := f.cfg.XFCC
	if x.Mode == spec.XFCCAlwaysForwardOnly {
		return
	}
	r := f.st.Request()
	var t *stream.TLS
	if c := f.conn(); c != nil {
		t = c.TLS
	}
	switch {
	case x.Mode == spec.XFCCSanitize || !t.PeerPresented():
		r.Headers = removeXFCC(r.Headers)
		return
	case x.Mode == spec.XFCCForwardOnly:
		return
	}
	buf := f.ss.xfcc[:0]
	if x.Mode == spec.XFCCAppendForward {
		if v, ok := r.Header("x-forwarded-client-cert"); ok {
			buf = append(append(buf, v...), ',')
		}
	}
	buf = appendElement(buf, t, x.Details)
	f.ss.xfcc = buf
	r.Headers = append(removeXFCC(r.Headers), route.Header{Name: xfccName, Value: buf})
}

// appendElement appends this hop's XFCC element for the client t to
// dst, Envoy's keys in Envoy's order: By (each local URI SAN), Hash,
// then Cert, Chain, Subject, URI and DNS as details asks.
func appendElement(dst []byte, t *stream.TLS, details spec.XFCCDetails) []byte {
	n := len(dst)
	sep := func() {
		if len(dst) > n {
			dst = append(dst, ';')
		}
	}
	for _, u := range t.LocalURIs {
		sep()
		dst = append(append(dst, "By="...), u...)
	}
	if h := t.PeerHash(); h != "" {
		sep()
		dst = append(append(dst, "Hash="...), h...)
	}
	if details&spec.XFCCCert != 0 {
		sep()
		dst = append(append(append(dst, `Cert="`...), t.PeerCertPEM()...), '"')
	}
	if details&spec.XFCCChain != 0 {
		sep()
		dst = append(append(append(dst, `Chain="`...), t.PeerChainPEM()...), '"')
	}
	if details&spec.XFCCSubject != 0 {
		sep()
		dst = append(append(append(dst, `Subject="`...), t.PeerSubject...), '"')
	}
	if details&spec.XFCCURI != 0 {
		sep()
		dst = append(dst, "URI="...)
		for i, u := range t.PeerURIs {
			if i > 0 {
				dst = append(dst, ";URI="...)
			}
			dst = append(dst, u...)
		}
	}
	if details&spec.XFCCDNS != 0 {
		for _, d := range t.PeerDNS {
			sep()
			dst = append(append(dst, "DNS="...), d...)
		}
	}
	return dst
}

// removeXFCC removes every x-forwarded-client-cert header from hs, in
// place.
func removeXFCC(hs []route.Header) []route.Header {
	return route.RemoveHeader(hs, "x-forwarded-client-cert")
}
