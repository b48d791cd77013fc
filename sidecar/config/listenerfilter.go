package config

import (
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
)

// Envoy's default listener_filters_timeout.
const defaultListenerFiltersTimeout = 15 * time.Second

var (
	listenerFilterFields = allow(&listenerv3.ListenerFilter{}, "name", "typed_config")
	// initial_read_buffer_size only tunes Envoy's reads; the inspector
	// here peeks at up to one whole TLS record.
	tlsInspectorFields = allow(&tlsinspectorv3.TlsInspector{},
		"initial_read_buffer_size", "close_connection_on_client_hello_parsing_errors")

	tlsInspectorType = typeURL(&tlsinspectorv3.TlsInspector{})
)

// decodeListenerFilters sets out.TLSInspector from l's listener_filters,
// of which tls_inspector is the only one supported.
func decodeListenerFilters(l *listenerv3.Listener, out *Listener) error {
	for i, f := range l.GetListenerFilters() {
		insp, err := decodeListenerFilter(f)
		if err != nil {
			return within(index("listener_filters", i), err)
		}
		out.TLSInspector = insp
	}
	if out.TLSInspector == nil {
		return nil
	}
	timeout, err := durationOr(l.GetListenerFiltersTimeout(), defaultListenerFiltersTimeout)
	if err != nil {
		return within("listener_filters_timeout", err)
	}
	out.TLSInspector.Timeout = timeout
	out.TLSInspector.ContinueOnTimeout = l.GetContinueOnListenerFiltersTimeout()
	return nil
}

func decodeListenerFilter(f *listenerv3.ListenerFilter) (*TLSInspector, error) {
	if err := listenerFilterFields.check(f); err != nil {
		return nil, err
	}
	tc := f.GetTypedConfig()
	switch tc.GetTypeUrl() {
	case "":
		return nil, errorf("typed_config", "required")
	case tlsInspectorType:
	default:
		return nil, errorf("typed_config", "unsupported listener filter %q", tc.GetTypeUrl())
	}
	m := &tlsinspectorv3.TlsInspector{}
	if err := unpack(tc, m); err != nil {
		return nil, within("typed_config", err)
	}
	if err := tlsInspectorFields.check(m); err != nil {
		return nil, within("typed_config", err)
	}
	return &TLSInspector{CloseOnParseError: m.GetCloseConnectionOnClientHelloParsingErrors()}, nil
}
