package config

import (
	"errors"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"

	"github.com/meshlb/meshlb/sidecar/filterchain"
	"github.com/meshlb/meshlb/sidecar/spec"
)

var (
	filterChainFields = allow(&listenerv3.FilterChain{}, "filters", "metadata", "name", "filter_chain_match",
		"transport_socket", "transport_socket_connect_timeout")
	filterFields = allow(&listenerv3.Filter{}, "name", "typed_config")
)

// decodeFilterChains decodes l's filter_chains and default_filter_chain
// into out, and rejects chains whose matches overlap.
func decodeFilterChains(l *listenerv3.Listener, out *Listener) error {
	chains := l.GetFilterChains()
	if len(chains) == 0 && l.GetDefaultFilterChain() == nil {
		return errorf("filter_chains", "at least one filter chain or a default_filter_chain is required")
	}
	out.FilterChains = make([]FilterChain, len(chains))
	for i, fc := range chains {
		if err := decodeFilterChain(fc, &out.FilterChains[i], out.TLSInspector != nil); err != nil {
			return within(index("filter_chains", i), err)
		}
	}
	if dfc := l.GetDefaultFilterChain(); dfc != nil {
		out.Default = &FilterChain{}
		if err := decodeFilterChain(dfc, out.Default, out.TLSInspector != nil); err != nil {
			return within("default_filter_chain", err)
		}
	}
	return checkOverlap(out.FilterChains)
}

// checkOverlap rejects two chains that would match the same connections
// by the same rules, as Envoy does.
func checkOverlap(chains []FilterChain) error {
	ms := make([]spec.FilterChainMatch, len(chains))
	for i := range chains {
		ms[i] = chains[i].Match
	}
	_, err := filterchain.Compile(ms)
	var oe *filterchain.OverlapError
	if errors.As(err, &oe) {
		return errorf(index("filter_chains", oe.Second)+".filter_chain_match",
			"overlaps filter_chains[%d] (%q): a connection would match both by the same rules", oe.First, chains[oe.First].Name)
	}
	return err
}

// decodeFilterChain decodes fc into out: its match and its network
// filters, the last of which must be terminal. inspected says whether the
// listener has the TLS inspector, which TLS criteria need.
func decodeFilterChain(fc *listenerv3.FilterChain, out *FilterChain, inspected bool) error {
	if err := filterChainFields.check(fc); err != nil {
		return err
	}
	out.Name = fc.GetName()
	m, err := decodeChainMatch(fc.GetFilterChainMatch(), inspected)
	if err != nil {
		return within("filter_chain_match", err)
	}
	out.Match = m
	filters := fc.GetFilters()
	if len(filters) == 0 {
		return errorf("filters", "a terminal filter (tcp_proxy or http_connection_manager) is required")
	}
	last := len(filters) - 1
	for i, f := range filters[:last] {
		nf, err := decodeNetworkFilter(f)
		if err != nil {
			return within(index("filters", i), err)
		}
		out.Filters = append(out.Filters, nf)
	}
	if err := decodeTerminalFilter(filters[last], out); err != nil {
		return within(index("filters", last), err)
	}
	return decodeChainTLS(fc, out)
}

// decodeChainTLS sets out.TLS from fc's transport socket, once out's
// terminal filter is known.
func decodeChainTLS(fc *listenerv3.FilterChain, out *FilterChain) error {
	t, err := decodeDownstreamTLS(fc.GetTransportSocket(), out.HTTP != nil && out.HTTP.Codec == spec.CodecHTTP1)
	if err != nil {
		return within("transport_socket", err)
	}
	timeout, err := durationOr(fc.GetTransportSocketConnectTimeout(), 0)
	if err != nil {
		return within("transport_socket_connect_timeout", err)
	}
	if t != nil {
		t.HandshakeTimeout = timeout
	}
	out.TLS = t
	return nil
}

// isTerminal reports whether typeURL names a terminal network filter.
func isTerminal(typeURL string) bool { return typeURL == tcpProxyType || typeURL == hcmType }

// decodeTerminalFilter sets out.TCP or out.HTTP from f's typed_config.
func decodeTerminalFilter(f *listenerv3.Filter, out *FilterChain) error {
	if err := filterFields.check(f); err != nil {
		return err
	}
	tc := f.GetTypedConfig()
	var err error
	switch url := tc.GetTypeUrl(); {
	case url == "":
		return errorf("typed_config", "required")
	case url == tcpProxyType:
		p := &tcpproxyv3.TcpProxy{}
		if err = unpack(tc, p); err == nil {
			out.TCP, err = decodeTCPProxy(p)
		}
	case url == hcmType:
		out.HTTP, err = decodeHCM(tc)
	case networkDecoders[url] != nil:
		return errorf("typed_config", "%q is not a terminal filter: the last filter must be tcp_proxy or http_connection_manager", url)
	default:
		return errorf("typed_config", "unsupported filter %q", url)
	}
	if err != nil {
		return within("typed_config", err)
	}
	return nil
}
