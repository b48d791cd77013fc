package config

import (
	"net/netip"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"

	"github.com/meshlb/meshlb/sidecar/filterchain"
	"github.com/meshlb/meshlb/sidecar/spec"
)

var (
	// server_names, application_protocols and transport_protocol "tls"
	// need the TLS inspector; without it decodeChainMatch rejects them
	// with that reason before this check.
	chainMatchFields = allow(&listenerv3.FilterChainMatch{},
		"destination_port", "prefix_ranges", "direct_source_prefix_ranges", "source_type",
		"source_prefix_ranges", "source_ports", "transport_protocol", "server_names", "application_protocols")
	cidrFields = allow(&corev3.CidrRange{}, "address_prefix", "prefix_len")
)

// sourceTypes maps Envoy's ConnectionSourceType to the spec's.
var sourceTypes = map[listenerv3.FilterChainMatch_ConnectionSourceType]spec.SourceType{
	listenerv3.FilterChainMatch_ANY:                 spec.SourceAny,
	listenerv3.FilterChainMatch_SAME_IP_OR_LOOPBACK: spec.SourceLocal,
	listenerv3.FilterChainMatch_EXTERNAL:            spec.SourceExternal,
}

// decodeChainMatch decodes a validated FilterChainMatch; nil matches every
// connection. inspected says whether the listener has the TLS inspector.
func decodeChainMatch(m *listenerv3.FilterChainMatch, inspected bool) (FilterChainMatch, error) {
	var out FilterChainMatch
	if m == nil {
		return out, nil
	}
	if err := checkTLSCriteria(m, inspected); err != nil {
		return out, err
	}
	if err := chainMatchFields.check(m); err != nil {
		return out, err
	}
	var err error
	out.DestinationPort = uint16(m.GetDestinationPort().GetValue())
	if out.PrefixRanges, err = decodeCIDRs(m.GetPrefixRanges()); err != nil {
		return out, within("prefix_ranges", err)
	}
	if out.DirectSourcePrefixes, err = decodeCIDRs(m.GetDirectSourcePrefixRanges()); err != nil {
		return out, within("direct_source_prefix_ranges", err)
	}
	if out.SourcePrefixRanges, err = decodeCIDRs(m.GetSourcePrefixRanges()); err != nil {
		return out, within("source_prefix_ranges", err)
	}
	st, ok := sourceTypes[m.GetSourceType()]
	if !ok {
		return out, errorf("source_type", "%s is not supported", m.GetSourceType())
	}
	out.SourceType = st
	for _, p := range m.GetSourcePorts() {
		out.SourcePorts = append(out.SourcePorts, uint16(p)) // PGV bounds them to 65535
	}
	out.TransportProtocol = m.GetTransportProtocol()
	for _, n := range m.GetServerNames() {
		out.ServerNames = append(out.ServerNames, strings.ToLower(n))
	}
	out.ApplicationProtocols = m.GetApplicationProtocols()
	return out, nil
}

// checkTLSCriteria checks the criteria only a TLS ClientHello can
// satisfy: they need the listener's TLS inspector (without it every
// connection is raw_buffer, with no SNI or ALPN, and they would never
// match). Server names may be exact or "*.suffix", as in Envoy.
func checkTLSCriteria(m *listenerv3.FilterChainMatch, inspected bool) error {
	const why = "needs the TLS inspector: add envoy.filters.listener.tls_inspector to the listener's listener_filters"
	switch tp := m.GetTransportProtocol(); {
	case tp != "" && tp != filterchain.RawBuffer && tp != "tls":
		return errorf("transport_protocol", "%q is not supported: only %q and \"tls\"", tp, filterchain.RawBuffer)
	case tp == "tls" && !inspected:
		return errorf("transport_protocol", "\"tls\" %s", why)
	case len(m.GetServerNames()) > 0 && !inspected:
		return errorf("server_names", why)
	case len(m.GetApplicationProtocols()) > 0 && !inspected:
		return errorf("application_protocols", why)
	}
	for i, n := range m.GetServerNames() {
		if n == "" || n == "*." || strings.Contains(n, "*") && (!strings.HasPrefix(n, "*.") || strings.Count(n, "*") > 1) {
			return errorf(index("server_names", i), "%q: only exact names and \"*.suffix\" wildcards are supported", n)
		}
	}
	for i, p := range m.GetApplicationProtocols() {
		if p == "" {
			return errorf(index("application_protocols", i), "must not be empty")
		}
	}
	return nil
}

// decodeCIDRs decodes CidrRanges into masked prefixes. A missing
// prefix_len is 0, as in Envoy.
func decodeCIDRs(rs []*corev3.CidrRange) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, r := range rs {
		p, err := decodeCIDR(r)
		if err != nil {
			return nil, within(index("", i), err)
		}
		out = append(out, p)
	}
	return out, nil
}

// decodeCIDR decodes one CidrRange into a masked prefix.
func decodeCIDR(r *corev3.CidrRange) (netip.Prefix, error) {
	if err := cidrFields.check(r); err != nil {
		return netip.Prefix{}, err
	}
	ip, err := netip.ParseAddr(r.GetAddressPrefix())
	if err != nil || ip.Zone() != "" || strings.Contains(r.GetAddressPrefix(), "/") {
		return netip.Prefix{}, errorf("address_prefix", "%q is not an IP address", r.GetAddressPrefix())
	}
	bits := int(r.GetPrefixLen().GetValue())
	if bits > ip.BitLen() {
		return netip.Prefix{}, errorf("prefix_len", "%d is longer than the %d bits of %s", bits, ip.BitLen(), ip)
	}
	p, _ := ip.Prefix(bits)
	return p, nil
}
