package explain

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// Query is what to explain: an HTTP request or a TCP connection, where it
// comes from and, optionally, where it arrives.
type Query struct {
	// Method is the HTTP method; "" for a TCP connection.
	Method string
	// URL is the request's URL (http or https), or tcp://host:port or
	// tls://host:port for a connection.
	URL *url.URL
	// Headers are request headers, each "name: value".
	Headers []string
	// From is the client's address.
	From netip.AddrPort
	// To is the connection's destination; the zero value takes the URL's
	// host when it is an IP address, else the listener's address.
	To netip.AddrPort
	// Listener names the listener; "" finds it by To, or by the URL.
	Listener string
	// SNI and ALPN are what a TLS client sends in its ClientHello; the
	// SNI defaults to the URL's host name for https and tls.
	SNI  string
	ALPN []string
	// Principal is the URI SAN (SPIFFE ID) of the client's certificate,
	// for RBAC rules on authenticated principals.
	Principal string
}

// DefaultFrom is the client address of a query that names none.
var DefaultFrom = netip.MustParseAddrPort("127.0.0.1:0")

// ParseQuery reads a query from the parameters of GET /explain: request
// ("GET http://api/users/7", "tcp://127.0.0.1:9191"), header (repeated,
// "name: value"), from, to, listener, sni, alpn (comma separated) and
// principal.
func ParseQuery(v url.Values) (Query, error) {
	q := Query{Headers: v["header"], Listener: v.Get("listener"), SNI: strings.ToLower(v.Get("sni")),
		Principal: v.Get("principal"), From: DefaultFrom}
	if err := q.parseTarget(v.Get("request")); err != nil {
		return q, err
	}
	if a := v.Get("alpn"); a != "" {
		q.ALPN = strings.Split(a, ",")
	}
	for _, h := range q.Headers {
		if name, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(name) == "" {
			return q, fmt.Errorf("header %q: want \"name: value\"", h)
		}
	}
	var err error
	if f := v.Get("from"); f != "" {
		if q.From, err = parseAddr(f); err != nil {
			return q, fmt.Errorf("from: %w", err)
		}
	}
	if t := v.Get("to"); t != "" {
		if q.To, err = parseAddr(t); err != nil {
			return q, fmt.Errorf("to: %w", err)
		}
	}
	return q, nil
}

// parseAddr parses ip:port, or an IP alone (port 0).
func parseAddr(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q is not ip:port", s)
	}
	return netip.AddrPortFrom(a, 0), nil
}

// parseTarget reads "[METHOD] URL".
func (q *Query) parseTarget(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return fmt.Errorf("request: missing, want \"GET http://host/path\" or \"tcp://host:port\"")
	}
	if m, rest, ok := strings.Cut(s, " "); ok {
		q.Method, s = strings.ToUpper(m), strings.TrimSpace(rest)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
		if q.Method == "" {
			q.Method = "GET"
		}
	case "tcp", "tls":
		if q.Method != "" {
			return fmt.Errorf("request: a %s:// connection has no method", u.Scheme)
		}
	default:
		return fmt.Errorf("request: scheme %q: want http, https, tcp or tls", u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("request: %q has no host", s)
	}
	q.URL = u
	return nil
}

// IsHTTP reports whether q is an HTTP request rather than a connection.
func (q *Query) IsHTTP() bool { return q.Method != "" }

// isTLS reports whether the client speaks TLS.
func (q *Query) isTLS() bool {
	return q.URL.Scheme == "https" || q.URL.Scheme == "tls" || q.SNI != "" || len(q.ALPN) > 0 || q.Principal != ""
}

// sni is the server name the client sends: --sni, else the URL's host
// name for a TLS client (not an IP address).
func (q *Query) sni() string {
	if q.SNI != "" || !q.isTLS() {
		return q.SNI
	}
	h := q.URL.Hostname()
	if _, err := netip.ParseAddr(h); err == nil {
		return ""
	}
	return strings.ToLower(h)
}
