package config

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	connlimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/connection_limit/v3"
	lratev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/local_ratelimit/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// networkDecoders decode the typed_config of the non-terminal network
// filters, by type URL, into the spec configuration the data plane's
// filter builder of the same type URL takes (sidecar/filterchain).
var networkDecoders = map[string]func(*anypb.Any) (any, error){
	spec.LocalRateLimitType:  decodeNetworkRateLimit,
	spec.NetworkRBACType:     decodeNetworkRBAC,
	spec.ConnectionLimitType: decodeConnectionLimit,
}

var (
	netRateLimitFields = allow(&lratev3.LocalRateLimit{}, "stat_prefix", "token_bucket", "runtime_enabled")
	// delay (hold a refused connection open before closing it) is not
	// done: a refused connection is closed at once.
	connLimitFields = allow(&connlimitv3.ConnectionLimit{}, "stat_prefix", "max_connections", "runtime_enabled")
	// There is no runtime layer: the flag is its default_value.
	runtimeFlagFields = allow(&corev3.RuntimeFeatureFlag{}, "default_value", "runtime_key")
)

// decodeNetworkFilter decodes a non-terminal network filter.
func decodeNetworkFilter(f *listenerv3.Filter) (NetworkFilter, error) {
	if err := filterFields.check(f); err != nil {
		return NetworkFilter{}, err
	}
	tc := f.GetTypedConfig()
	url := tc.GetTypeUrl()
	dec := networkDecoders[url]
	switch {
	case url == "":
		return NetworkFilter{}, errorf("typed_config", "required")
	case isTerminal(url):
		return NetworkFilter{}, errorf("typed_config", "terminal filter %q must be the last filter of its chain", url)
	case dec == nil:
		return NetworkFilter{}, errorf("typed_config", "unsupported filter %q", url)
	}
	cfg, err := dec(tc)
	if err != nil {
		return NetworkFilter{}, within("typed_config", err)
	}
	return NetworkFilter{Name: f.GetName(), TypeURL: url, Config: cfg}, nil
}

// decodeNetworkRateLimit decodes the network filter
// envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit.
func decodeNetworkRateLimit(a *anypb.Any) (any, error) {
	m := &lratev3.LocalRateLimit{}
	if err := unpack(a, m); err != nil {
		return nil, err
	}
	if err := netRateLimitFields.check(m); err != nil {
		return nil, err
	}
	b, err := decodeTokenBucket(m.GetTokenBucket()) // required by validation
	if err != nil {
		return nil, within("token_bucket", err)
	}
	out := &LocalRateLimit{StatPrefix: m.GetStatPrefix(), Bucket: *b}
	if rf := m.GetRuntimeEnabled(); rf != nil {
		if err := runtimeFlagFields.check(rf); err != nil {
			return nil, within("runtime_enabled", err)
		}
		out.Disabled = !rf.GetDefaultValue().GetValue()
	}
	return out, nil
}

// decodeConnectionLimit decodes the network filter
// envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit
// (Consul's max_inbound_connections).
func decodeConnectionLimit(a *anypb.Any) (any, error) {
	m := &connlimitv3.ConnectionLimit{}
	if err := unpack(a, m); err != nil {
		return nil, err
	}
	if err := connLimitFields.check(m); err != nil {
		return nil, err
	}
	out := &spec.ConnectionLimit{StatPrefix: m.GetStatPrefix(), MaxConnections: m.GetMaxConnections().GetValue()}
	if rf := m.GetRuntimeEnabled(); rf != nil {
		if err := runtimeFlagFields.check(rf); err != nil {
			return nil, within("runtime_enabled", err)
		}
		out.Disabled = !rf.GetDefaultValue().GetValue()
	}
	return out, nil
}
