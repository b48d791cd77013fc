package config

import (
	"slices"
	"strconv"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// filterDecoder decodes one HTTP filter type's typed_config into the
// spec value sidecar/httpfilter's builder for that type URL takes.
// perRoute says it comes from typed_per_filter_config.
type filterDecoder func(a *anypb.Any, perRoute bool) (any, error)

// filterDecoders are the HTTP filters accepted before the router, by type
// URL. They must be the type URLs registered in sidecar/httpfilter (a test
// checks both agree).
var filterDecoders = map[string]filterDecoder{
	localRateLimitType:        decodeLocalRateLimit,
	faultType:                 decodeFault,
	spec.HTTPRBACType:         decodeHTTPRBAC,
	spec.HeaderToMetadataType: decodeHeaderToMetadata,
	spec.GRPCStatsType:        decodeGRPCStats,
	spec.GRPCHTTP1BridgeType:  decodeGRPCHTTP1Bridge,
}

// HTTPFilterTypes returns the type URLs of the HTTP filters this package
// decodes (the router aside), sorted.
func HTTPFilterTypes() []string {
	var out []string
	for u := range filterDecoders {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// decodeHTTPFilters decodes http_filters: any number of accepted filters
// with distinct names, then the router, last.
func decodeHTTPFilters(fs []*hcmv3.HttpFilter) ([]spec.HTTPFilter, error) {
	if len(fs) == 0 {
		return nil, errorf("", "the router filter is required, last")
	}
	var out []spec.HTTPFilter
	seen := map[string]bool{}
	for i, f := range fs[:len(fs)-1] {
		if f.GetTypedConfig().GetTypeUrl() == routerType {
			return nil, errorf(index("", i), "the router must be the last filter")
		}
		d, err := decodeHTTPFilter(f)
		if err != nil {
			return nil, within(index("", i), err)
		}
		if seen[d.Name] {
			return nil, errorf(index("", i)+".name", "%q is used by an earlier filter", d.Name)
		}
		seen[d.Name] = true
		out = append(out, d)
	}
	if err := checkRouter(fs[len(fs)-1]); err != nil {
		return nil, within(index("", len(fs)-1), err)
	}
	return out, nil
}

// decodeHTTPFilter decodes one filter other than the router.
func decodeHTTPFilter(f *hcmv3.HttpFilter) (spec.HTTPFilter, error) {
	if err := httpFilterFields.check(f); err != nil {
		return spec.HTTPFilter{}, err
	}
	tc := f.GetTypedConfig()
	if tc == nil {
		return spec.HTTPFilter{}, errorf("typed_config", "required")
	}
	cfg, err := decodeFilterConfig(tc, false)
	if err != nil {
		return spec.HTTPFilter{}, within("typed_config", err)
	}
	return spec.HTTPFilter{Name: f.GetName(), TypeURL: tc.GetTypeUrl(), Config: cfg}, nil
}

func decodeFilterConfig(a *anypb.Any, perRoute bool) (any, error) {
	d := filterDecoders[a.GetTypeUrl()]
	if d == nil {
		return nil, errorf("", "unsupported HTTP filter %q", a.GetTypeUrl())
	}
	return d(a, perRoute)
}

// decodePerFilter decodes a route's or virtual host's
// typed_per_filter_config, by filter name. Only the filters' own config
// types are accepted (not envoy.config.route.v3.FilterConfig).
func decodePerFilter(m map[string]*anypb.Any) (map[string]*spec.HTTPFilter, error) {
	if len(m) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names) // the first error is the same every time
	out := make(map[string]*spec.HTTPFilter, len(m))
	for _, name := range names {
		a := m[name]
		cfg, err := decodeFilterConfig(a, true)
		if err != nil {
			return nil, within("typed_per_filter_config["+strconv.Quote(name)+"]", err)
		}
		out[name] = &spec.HTTPFilter{Name: name, TypeURL: a.GetTypeUrl(), Config: cfg}
	}
	return out, nil
}

// mergePerFilter returns a route's per-filter configs over its virtual
// host's: the route's entries win, the virtual host's are shared.
func mergePerFilter(route, vhost map[string]*spec.HTTPFilter) map[string]*spec.HTTPFilter {
	if len(vhost) == 0 {
		return route
	}
	out := make(map[string]*spec.HTTPFilter, len(route)+len(vhost))
	for k, v := range vhost {
		out[k] = v
	}
	for k, v := range route {
		out[k] = v
	}
	return out
}
