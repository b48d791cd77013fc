package route

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestHashSettingCookie: a cookie policy with a ttl whose cookie is
// missing makes Envoy's Set-Cookie value and hashes the value it made;
// a request carrying the cookie hashes it and sets nothing.
func TestHashSettingCookie(t *testing.T) {
	remote, local := netip.MustParseAddrPort("10.1.2.3:54321"), netip.MustParseAddrPort("127.0.0.1:8080")
	v6 := netip.MustParseAddrPort("[::1]:40000")
	val := func(remote, local string) string {
		return fmt.Sprintf("%016x", xxhash.Sum64String(remote+local))
	}
	v4val, v6val := val("10.1.2.3:54321", "127.0.0.1:8080"), val("[::1]:40000", "127.0.0.1:8080")
	rotl := func(h uint64) uint64 { return h<<1 | h>>63 }
	user := xxhash.Sum64String("alice")
	withCookie := &Request{Path: []byte("/"), Headers: []Header{{Name: []byte("cookie"), Value: []byte(`lb="given"`)}}}
	tests := []struct {
		name       string
		hp         []spec.HashPolicy
		req        *Request
		remote     netip.AddrPort
		want       uint64
		setCookies []string
	}{
		{"max-age, path, attributes", []spec.HashPolicy{{Kind: spec.HashCookie, Name: "lb", Cookie: &spec.SetCookie{MaxAge: 3600, Path: "/app",
			Attributes: []spec.CookieAttribute{{Name: "SameSite", Value: "Lax"}, {Name: "Secure"}}}}}, nil, remote,
			xxhash.Sum64String(v4val), []string{`lb="` + v4val + `"; Max-Age=3600; Path=/app; SameSite=Lax; Secure; HttpOnly`}},
		{"ttl 0 is a session cookie", []spec.HashPolicy{{Kind: spec.HashCookie, Name: "lb", Cookie: &spec.SetCookie{}}}, nil, remote,
			xxhash.Sum64String(v4val), []string{`lb="` + v4val + `"; HttpOnly`}},
		{"ipv6 client in brackets", []spec.HashPolicy{{Kind: spec.HashCookie, Name: "lb", Cookie: &spec.SetCookie{MaxAge: 60}}}, nil, v6,
			xxhash.Sum64String(v6val), []string{`lb="` + v6val + `"; Max-Age=60; HttpOnly`}},
		{"cookie present: hashed, none set", []spec.HashPolicy{{Kind: spec.HashCookie, Name: "lb", Cookie: &spec.SetCookie{MaxAge: 60}}}, withCookie, remote,
			xxhash.Sum64String("given"), nil},
		{"no ttl: nothing set, no hash", []spec.HashPolicy{{Kind: spec.HashCookie, Name: "lb"}}, nil, remote, 0, nil},
		{"combined after a header", []spec.HashPolicy{{Kind: spec.HashHeader, Name: "x-user"}, {Kind: spec.HashCookie, Name: "lb", Cookie: &spec.SetCookie{MaxAge: 1}}},
			&Request{Path: []byte("/"), Headers: []Header{{Name: []byte("x-user"), Value: []byte("alice")}}}, remote,
			rotl(user) ^ xxhash.Sum64String(v4val), []string{`lb="` + v4val + `"; Max-Age=1; HttpOnly`}},
		{"terminal header first: no cookie made", []spec.HashPolicy{{Kind: spec.HashHeader, Name: "x-user", Terminal: true}, {Kind: spec.HashCookie, Name: "lb", Cookie: &spec.SetCookie{MaxAge: 1}}},
			&Request{Path: []byte("/"), Headers: []Header{{Name: []byte("x-user"), Value: []byte("alice")}}}, remote, user, nil},
		{"two policies, two cookies", []spec.HashPolicy{{Kind: spec.HashCookie, Name: "a", Cookie: &spec.SetCookie{}}, {Kind: spec.HashCookie, Name: "b", Cookie: &spec.SetCookie{Path: "/"}}}, nil, remote,
			rotl(xxhash.Sum64String(v4val)) ^ xxhash.Sum64String(v4val), []string{`a="` + v4val + `"; HttpOnly`, `b="` + v4val + `"; Path=/; HttpOnly`}},
		{"filter state finds nothing", []spec.HashPolicy{{Kind: spec.HashFilterState, Name: "k"}}, nil, remote, 0, nil},
		{"filter state beside a header: the header's hash", []spec.HashPolicy{{Kind: spec.HashFilterState, Name: "k"}, {Kind: spec.HashHeader, Name: "x-user"}},
			&Request{Path: []byte("/"), Headers: []Header{{Name: []byte("x-user"), Value: []byte("alice")}}}, remote, user, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Route{HashPolicy: compileHashPolicy(tt.hp)}
			req := tt.req
			if req == nil {
				req = &Request{Path: []byte("/")}
			}
			var sc SetCookies
			sc.Remote, sc.Local = tt.remote, local
			if got := r.HashSetting(req, nil, &sc); got != tt.want {
				t.Errorf("HashSetting = %#x, want %#x", got, tt.want)
			}
			var got []string
			for i := range sc.Len() {
				got = append(got, string(sc.Value(i)))
			}
			if diff := cmp.Diff(tt.setCookies, got); diff != "" {
				t.Errorf("Set-Cookie values (-want +got):\n%s", diff)
			}
			if n := testing.AllocsPerRun(100, func() { sc.Reset(); r.HashSetting(req, nil, &sc) }); n != 0 {
				t.Errorf("HashSetting allocates %v times once warm, want 0", n)
			}
		})
	}
}

// BenchmarkHashSettingCookie measures a request without its cookie
// under a cookie policy with a ttl: the cookie made, formatted and hashed.
func BenchmarkHashSettingCookie(b *testing.B) {
	r := &Route{HashPolicy: compileHashPolicy([]spec.HashPolicy{{Kind: spec.HashCookie, Name: "lb", Cookie: &spec.SetCookie{MaxAge: 3600, Path: "/"}}})}
	req := &Request{Path: []byte("/"), Headers: []Header{{Name: []byte("accept"), Value: []byte("*/*")}}}
	var sc SetCookies
	sc.Remote, sc.Local = netip.MustParseAddrPort("10.1.2.3:54321"), netip.MustParseAddrPort("127.0.0.1:8080")
	b.ReportAllocs()
	for b.Loop() {
		sc.Reset()
		if r.HashSetting(req, nil, &sc) == 0 || sc.Len() != 1 {
			b.Fatal("no cookie")
		}
	}
}
