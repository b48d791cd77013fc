package route

import (
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// compileHashPolicy copies hp with header names in lower case, as
// Request.Header looks them up.
func compileHashPolicy(hp []spec.HashPolicy) []spec.HashPolicy {
	out := slices.Clone(hp)
	for i := range out {
		if out[i].Kind == spec.HashHeader {
			out[i].Name = strings.ToLower(out[i].Name)
		}
	}
	return out
}

// Hash returns the request's hash by the route's hash policies, as Envoy's
// HashPolicyImpl makes it: each policy that finds its value hashes it with
// xxHash64 and combines as hash = rotl(hash, 1) ^ next; a terminal policy
// that leaves a hash ends the walk. peer is the client's IP as text. It
// returns 0 when no policy made a hash (the balancer then picks at random)
// and never 0 otherwise. It does not allocate.
func (r *Route) Hash(req *Request, peer []byte) uint64 { return r.hash(req, peer, nil, nil) }

// HashSetting is [Route.Hash] where a cookie policy with a ttl whose
// cookie is missing makes one in sc (which the caller has Reset) and
// hashes its value, as Envoy's CookieHashMethod; the caller adds sc's
// values to the response as Set-Cookie headers. It allocates only while
// sc's buffers grow.
func (r *Route) HashSetting(req *Request, peer []byte, sc *SetCookies) uint64 {
	return r.hash(req, peer, sc, nil)
}

// SetsCookie reports whether one of r's hash policies sets a missing
// cookie (a cookie policy with a ttl), so that [Route.HashSetting] is
// the hash to call.
func (r *Route) SetsCookie() bool {
	for i := range r.HashPolicy {
		if r.HashPolicy[i].Cookie != nil {
			return true
		}
	}
	return false
}

// hash is HashSetting (sc nil: Hash), calling seen (when not nil) with
// each policy's index and the value it found, if any, for
// [Route.HashTrace].
func (r *Route) hash(req *Request, peer []byte, sc *SetCookies, seen func(i int, v []byte, ok bool)) uint64 {
	var hash uint64
	have := false
	for i := range r.HashPolicy {
		p := &r.HashPolicy[i]
		var v []byte
		ok := false
		switch p.Kind {
		case spec.HashHeader:
			v, ok = req.Header(p.Name)
		case spec.HashSourceIP:
			v, ok = peer, len(peer) > 0
		case spec.HashQuery:
			v, ok = req.QueryParam(p.Name)
		case spec.HashCookie:
			v, ok = req.Cookie(p.Name)
			if !ok && p.Cookie != nil && sc != nil {
				v, ok = sc.make(p.Name, p.Cookie), true
			}
		}
		// spec.HashFilterState finds nothing: no meshlb filter sets a
		// hashable filter-state object.
		if seen != nil {
			seen(i, v, ok)
		}
		if ok {
			next := xxhash.Sum64(v)
			if have {
				hash = (hash<<1 | hash>>63) ^ next
			} else {
				hash, have = next, true
			}
		}
		if p.Terminal && have {
			break
		}
	}
	if have && hash == 0 {
		hash = 1
	}
	return hash
}
