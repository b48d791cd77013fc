package route

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/format"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

func headers(kv ...string) []Header {
	var out []Header
	for i := 0; i < len(kv); i += 2 {
		out = append(out, Header{Name: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return out
}

func strs(hs []Header) []string {
	var out []string
	for _, h := range hs {
		out = append(out, string(h.Name)+": "+string(h.Value))
	}
	return out
}

func add(name, value string, act spec.AppendAction) spec.HeaderAdd {
	return spec.HeaderAdd{Name: name, Value: value, Action: act}
}

// TestMutationActions shows each append action, keep_empty_value,
// removal before addition, and Envoy's order of levels (route, virtual
// host, route configuration: the last wins).
func TestMutationActions(t *testing.T) {
	in := []string{"X-A", "1", "x-b", "2", "x-a", "3"}
	tests := []struct {
		name   string
		levels []spec.HeaderMutations
		want   []string
	}{
		{"append if exists or add", []spec.HeaderMutations{{RequestAdd: []spec.HeaderAdd{add("x-a", "new", spec.AppendIfExistsOrAdd)}}},
			[]string{"X-A: 1", "x-b: 2", "x-a: 3", "x-a: new"}},
		{"add if absent: present", []spec.HeaderMutations{{RequestAdd: []spec.HeaderAdd{add("x-a", "new", spec.AddIfAbsent)}}},
			[]string{"X-A: 1", "x-b: 2", "x-a: 3"}},
		{"add if absent: absent", []spec.HeaderMutations{{RequestAdd: []spec.HeaderAdd{add("x-c", "new", spec.AddIfAbsent)}}},
			[]string{"X-A: 1", "x-b: 2", "x-a: 3", "x-c: new"}},
		{"overwrite if exists or add", []spec.HeaderMutations{{RequestAdd: []spec.HeaderAdd{add("x-a", "new", spec.OverwriteIfExistsOrAdd), add("x-c", "c", spec.OverwriteIfExistsOrAdd)}}},
			[]string{"x-b: 2", "x-a: new", "x-c: c"}},
		{"overwrite if exists: absent", []spec.HeaderMutations{{RequestAdd: []spec.HeaderAdd{add("x-c", "new", spec.OverwriteIfExists)}}},
			[]string{"X-A: 1", "x-b: 2", "x-a: 3"}},
		{"overwrite if exists: present", []spec.HeaderMutations{{RequestAdd: []spec.HeaderAdd{add("x-b", "new", spec.OverwriteIfExists)}}},
			[]string{"X-A: 1", "x-a: 3", "x-b: new"}},
		{"empty value dropped", []spec.HeaderMutations{{RequestAdd: []spec.HeaderAdd{add("x-c", "%REQ(x-none)%", spec.AppendIfExistsOrAdd)}}},
			[]string{"X-A: 1", "x-b: 2", "x-a: 3"}},
		{"keep empty value", []spec.HeaderMutations{{RequestAdd: []spec.HeaderAdd{{Name: "x-c", Value: "%REQ(x-none)%", KeepEmpty: true}}}},
			[]string{"X-A: 1", "x-b: 2", "x-a: 3", "x-c: "}},
		{"remove every value, case-insensitively", []spec.HeaderMutations{{RequestRemove: []string{"x-a"}}},
			[]string{"x-b: 2"}},
		{"remove before add", []spec.HeaderMutations{{RequestRemove: []string{"x-b"}, RequestAdd: []spec.HeaderAdd{add("x-b", "again", spec.AddIfAbsent)}}},
			[]string{"X-A: 1", "x-a: 3", "x-b: again"}},
		{"values see the headers before the level's additions", []spec.HeaderMutations{{RequestAdd: []spec.HeaderAdd{
			add("x-b", "b2", spec.OverwriteIfExistsOrAdd), add("x-copy", "%REQ(x-b)%", spec.AppendIfExistsOrAdd)}}},
			[]string{"X-A: 1", "x-a: 3", "x-b: b2", "x-copy: 2"}},
		{"the route configuration wins over the virtual host and the route", []spec.HeaderMutations{
			{RequestAdd: []spec.HeaderAdd{add("x-level", "route", spec.OverwriteIfExistsOrAdd)}},
			{RequestAdd: []spec.HeaderAdd{add("x-level", "vhost", spec.OverwriteIfExistsOrAdd)}},
			{RequestAdd: []spec.HeaderAdd{add("x-level", "config", spec.OverwriteIfExistsOrAdd)}}},
			[]string{"X-A: 1", "x-b: 2", "x-a: 3", "x-level: config"}},
		{"a later level sees an earlier one's header", []spec.HeaderMutations{
			{RequestAdd: []spec.HeaderAdd{add("x-level", "route", spec.AppendIfExistsOrAdd)}},
			{RequestAdd: []spec.HeaderAdd{add("x-level", "vhost", spec.AddIfAbsent)}}},
			[]string{"X-A: 1", "x-b: 2", "x-a: 3", "x-level: route"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var levels []*spec.HeaderMutations
			for i := range tc.levels {
				levels = append(levels, &tc.levels[i])
			}
			m, err := compileMutations(levels...)
			if err != nil {
				t.Fatal(err)
			}
			r := &Request{Method: []byte("GET"), Path: []byte("/"), Headers: headers(in...)}
			var s Scratch
			m.Request(r, &format.Context{Request: r}, &s)
			if diff := cmp.Diff(tc.want, strs(r.Headers)); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResponseMutations shows response lists reading %RESP(x)%, %REQ(x)%
// and the stream info.
func TestResponseMutations(t *testing.T) {
	m, err := compileMutations(&spec.HeaderMutations{
		ResponseRemove: []string{"server"},
		ResponseAdd: []spec.HeaderAdd{
			add("x-type", "%RESP(content-type)%", spec.AppendIfExistsOrAdd),
			add("x-method", "%REQ(:method)% %UPSTREAM_HOST% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%", spec.AppendIfExistsOrAdd),
		}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Requests() || !m.Responses() {
		t.Fatalf("Requests, Responses = %t, %t; want false, true", m.Requests(), m.Responses())
	}
	r := &Request{Method: []byte("POST"), Path: []byte("/")}
	info := &stream.Info{Endpoint: "10.0.0.1:80", Addrs: stream.Addrs{Downstream: netip.MustParseAddrPort("192.0.2.1:5555")}}
	hs := HeaderList(headers("Server", "x", "Content-Type", "text/plain"))
	var s Scratch
	m.Response(&hs, &format.Context{Info: info, Request: r, Response: &hs}, &s)
	want := []string{"Content-Type: text/plain", "x-type: text/plain", "x-method: POST 10.0.0.1:80 192.0.2.1"}
	if diff := cmp.Diff(want, strs(hs)); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
}

func TestRegexRewrite(t *testing.T) {
	tests := []struct {
		pattern, sub, path, want string
	}{
		{"^/service/([^/]+)(/.*)$", `\2/instance/\1`, "/service/foo/v1/api", "/v1/api/instance/foo"},
		{"one", "two", "/xxx/one/yyy/one/zzz", "/xxx/two/yyy/two/zzz"},
		{"^(.*?)one(.*)$", `\1two\2`, "/xxx/one/yyy/one/zzz", "/xxx/two/yyy/one/zzz"},
		{"(?i)/xxx/", "/yyy/", "/aaa/XxX/bbb", "/aaa/yyy/bbb"},
		{"a", "$1", "/a", "/$1"},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			p, err := compilePathRewrite(&spec.RegexRewrite{Pattern: tc.pattern, Substitution: tc.sub})
			if err != nil {
				t.Fatal(err)
			}
			if got := string(p.Rewrite([]byte(tc.path))); got != tc.want {
				t.Errorf("Rewrite(%q) = %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}

// BenchmarkMutations measures a route's request mutations with a
// substitution and a literal, after the first request grew the buffers.
func BenchmarkMutations(b *testing.B) {
	m, err := compileMutations(&spec.HeaderMutations{
		RequestRemove: []string{"x-internal"},
		RequestAdd: []spec.HeaderAdd{
			add("x-client", "%DOWNSTREAM_REMOTE_ADDRESS%", spec.OverwriteIfExistsOrAdd),
			add("x-route", "web", spec.AppendIfExistsOrAdd),
			add("x-ua", "%REQ(user-agent)%", spec.AddIfAbsent),
		}})
	if err != nil {
		b.Fatal(err)
	}
	base := headers("User-Agent", "wrk", "Accept", "*/*", "X-Internal", "1")
	r := &Request{Method: []byte("GET"), Path: []byte("/"), Headers: make([]Header, 0, 16)}
	info := &stream.Info{Start: time.Now(), Addrs: stream.Addrs{Downstream: netip.MustParseAddrPort("192.0.2.1:5555")}}
	c := &format.Context{Info: info, Request: r}
	var s Scratch
	b.ReportAllocs()
	for b.Loop() {
		r.Headers = append(r.Headers[:0], base...)
		s.Reset()
		m.Request(r, c, &s)
	}
}
