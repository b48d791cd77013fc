package route

import (
	"net/netip"
	"strconv"

	"github.com/cespare/xxhash/v2"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// SetCookies makes and keeps the Set-Cookie values of one request's
// cookie hash policies with a ttl, as Envoy's router does
// (addDownstreamSetCookie): a missing cookie gets the hex xxHash64 of the
// downstream connection's remote and local addresses, so streams racing
// on one connection get one cookie while other connections (ports) get
// others. It is reused from one request to the next, so it allocates
// only while its buffer grows. It must not be copied after first use.
type SetCookies struct {
	// Remote and Local are the downstream connection's addresses, which
	// the caller sets before hashing.
	Remote, Local netip.AddrPort
	buf           []byte
	ends          []int // the end in buf of each value made
}

// Reset forgets the previous request's cookies.
func (s *SetCookies) Reset() { s.buf, s.ends = s.buf[:0], s.ends[:0] }

// Len is the number of Set-Cookie values made since Reset.
func (s *SetCookies) Len() int { return len(s.ends) }

// Value returns the i-th Set-Cookie value made, valid until Reset or
// the next cookie made.
func (s *SetCookies) Value(i int) []byte {
	start := 0
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.buf[start:s.ends[i]:s.ends[i]]
}

// CookieValue is the value Envoy generates for a missing cookie on a
// connection from remote to local: 16 lower-case hex digits of the
// xxHash64 of both addresses as text ("10.0.0.1:5000127.0.0.1:80";
// IPv6 in brackets).
func CookieValue(dst *[16]byte, remote, local netip.AddrPort) {
	var b [2 * len("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%zone]:65535")]byte
	k := local.AppendTo(remote.AppendTo(b[:0]))
	h := xxhash.Sum64(k)
	const hex = "0123456789abcdef"
	for i := range 16 {
		dst[15-i] = hex[h>>(4*i)&0xf]
	}
}

// make appends the Set-Cookie value for cookie name of a policy with
// ttl c and returns the generated cookie value (within s, valid as
// Value's), as Envoy's makeSetCookieValue formats it:
// name="value"; Max-Age=<s>; Path=<p>; <attributes>; HttpOnly.
func (s *SetCookies) make(name string, c *spec.SetCookie) []byte {
	var v [16]byte
	CookieValue(&v, s.Remote, s.Local)
	b := append(s.buf, name...)
	b = append(b, '=', '"')
	at := len(b)
	b = append(b, v[:]...)
	b = append(b, '"')
	if c.MaxAge != 0 {
		b = append(b, "; Max-Age="...)
		b = strconv.AppendInt(b, c.MaxAge, 10)
	}
	if c.Path != "" {
		b = append(append(b, "; Path="...), c.Path...)
	}
	for _, a := range c.Attributes {
		b = append(append(b, "; "...), a.Name...)
		if a.Value != "" {
			b = append(append(b, '='), a.Value...)
		}
	}
	b = append(b, "; HttpOnly"...)
	s.buf, s.ends = b, append(s.ends, len(b))
	return b[at : at+len(v) : at+len(v)]
}
