package route

import (
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/meshlb/meshlb/sidecar/spec"
)

func TestHash(t *testing.T) {
	req := &Request{Path: []byte("/"), Query: []byte("a=1&id=42"),
		Headers: []Header{{Name: []byte("X-User"), Value: []byte("alice")},
			{Name: []byte("Cookie"), Value: []byte(`a=1; sid="s-9"; empty=`)}, {Name: []byte("cookie"), Value: []byte("late=7;sid=other")}}}
	peer := []byte("10.1.2.3")
	rotl := func(h uint64) uint64 { return h<<1 | h>>63 }
	user, id, ip := xxhash.Sum64String("alice"), xxhash.Sum64String("42"), xxhash.Sum64String("10.1.2.3")
	tests := []struct {
		name string
		hp   []spec.HashPolicy
		want uint64
	}{
		{"none", nil, 0},
		{"header, any case", []spec.HashPolicy{{Kind: spec.HashHeader, Name: "x-USER"}}, user},
		{"absent header", []spec.HashPolicy{{Kind: spec.HashHeader, Name: "x-other"}}, 0},
		{"query", []spec.HashPolicy{{Kind: spec.HashQuery, Name: "id"}}, id},
		{"source ip", []spec.HashPolicy{{Kind: spec.HashSourceIP}}, ip},
		{"cookie, quotes dropped, first of several", []spec.HashPolicy{{Kind: spec.HashCookie, Name: "sid"}}, xxhash.Sum64String("s-9")},
		{"cookie in a second cookie header", []spec.HashPolicy{{Kind: spec.HashCookie, Name: "late"}}, xxhash.Sum64String("7")},
		{"empty cookie is absent", []spec.HashPolicy{{Kind: spec.HashCookie, Name: "empty"}}, 0},
		{"absent cookie", []spec.HashPolicy{{Kind: spec.HashCookie, Name: "SID"}}, 0},
		{"combined", []spec.HashPolicy{{Kind: spec.HashHeader, Name: "x-user"}, {Kind: spec.HashQuery, Name: "id"}, {Kind: spec.HashSourceIP}},
			rotl(rotl(user)^id) ^ ip},
		{"terminal stops", []spec.HashPolicy{{Kind: spec.HashHeader, Name: "x-user", Terminal: true}, {Kind: spec.HashSourceIP}}, user},
		{"terminal without a hash goes on", []spec.HashPolicy{{Kind: spec.HashHeader, Name: "x-other", Terminal: true}, {Kind: spec.HashSourceIP}}, ip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Route{HashPolicy: compileHashPolicy(tt.hp)}
			if got := r.Hash(req, peer); got != tt.want {
				t.Errorf("Hash = %#x, want %#x", got, tt.want)
			}
			if n := testing.AllocsPerRun(100, func() { r.Hash(req, peer) }); n != 0 {
				t.Errorf("Hash allocates %v times, want 0", n)
			}
		})
	}
}

func BenchmarkHash(b *testing.B) {
	req := &Request{Path: []byte("/"), Query: []byte("a=1&id=42"),
		Headers: []Header{{Name: []byte("accept"), Value: []byte("*/*")}, {Name: []byte("X-User"), Value: []byte("alice")}}}
	r := &Route{HashPolicy: compileHashPolicy([]spec.HashPolicy{{Kind: spec.HashHeader, Name: "x-user"}, {Kind: spec.HashQuery, Name: "id"}, {Kind: spec.HashSourceIP}})}
	peer := []byte("10.1.2.3")
	b.ReportAllocs()
	for b.Loop() {
		if r.Hash(req, peer) == 0 {
			b.Fatal("no hash")
		}
	}
}
