package l7

import (
	"testing"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// BenchmarkRequestSetCookie is BenchmarkRequest under a cookie hash
// policy with a ttl and a client that never sends the cookie: every
// response gets a Set-Cookie made from the connection's addresses.
func BenchmarkRequestSetCookie(b *testing.B) {
	rt := toCluster("/", "web")
	rt.Action.HashPolicy = []spec.HashPolicy{{Kind: spec.HashCookie, Name: "lb", Cookie: &spec.SetCookie{MaxAge: 3600, Path: "/"}}}
	benchRoute(b, rt, []byte("\r\nset-cookie: lb=\""))
}
