package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestDecodeHeaderMutations shows the header lists of a route decoded,
// with each append action, the deprecated append, keep_empty_value and
// lower-cased names, and the route action's rewrites.
func TestDecodeHeaderMutations(t *testing.T) {
	rc, err := DecodeRouteConfig(oneRoute(t, `match: {prefix: /}
route: {cluster: be, host_rewrite_header: X-Host, regex_rewrite: {pattern: {regex: '^/(a)'}, substitution: '/b/\1'}}
request_headers_to_add:
- {header: {key: X-A, value: '%REQ(x-b)%'}}
- {header: {key: x-b, value: b}, append_action: ADD_IF_ABSENT}
- {header: {key: x-c, value: c}, append_action: OVERWRITE_IF_EXISTS_OR_ADD, keep_empty_value: true}
- {header: {key: x-d, value: d}, append_action: OVERWRITE_IF_EXISTS}
- {header: {key: x-e, value: e}, append: false}
- {header: {key: x-f, value: f}, append: true}
request_headers_to_remove: [X-Secret]
response_headers_to_add: [{header: {key: x-up, value: '%UPSTREAM_HOST%'}}]
response_headers_to_remove: [Server]`))
	if err != nil {
		t.Fatal(err)
	}
	r := rc.VirtualHosts[0].Routes[0]
	want := spec.HeaderMutations{
		RequestAdd: []spec.HeaderAdd{
			{Name: "x-a", Value: "%REQ(x-b)%"},
			{Name: "x-b", Value: "b", Action: spec.AddIfAbsent},
			{Name: "x-c", Value: "c", Action: spec.OverwriteIfExistsOrAdd, KeepEmpty: true},
			{Name: "x-d", Value: "d", Action: spec.OverwriteIfExists},
			{Name: "x-e", Value: "e", Action: spec.OverwriteIfExistsOrAdd},
			{Name: "x-f", Value: "f"},
		},
		RequestRemove:  []string{"x-secret"},
		ResponseAdd:    []spec.HeaderAdd{{Name: "x-up", Value: "%UPSTREAM_HOST%"}},
		ResponseRemove: []string{"server"},
	}
	if diff := cmp.Diff(want, r.Headers); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if r.Action.HostRewriteHeader != "x-host" || r.Action.RegexRewrite == nil || *r.Action.RegexRewrite != (spec.RegexRewrite{Pattern: "^/(a)", Substitution: `/b/\1`}) {
		t.Errorf("rewrites = %q, %+v", r.Action.HostRewriteHeader, r.Action.RegexRewrite)
	}
}
