package httpfilter

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestExplainRateLimit: the chain reports the bucket's tokens, explaining
// takes none, and a filter that would reply is where the report stops.
func TestExplainRateLimit(t *testing.T) {
	rl := spec.HTTPFilter{Name: "rl", TypeURL: LocalRateLimitType, Config: &spec.HTTPLocalRateLimit{StatPrefix: "rl",
		Bucket:  &spec.TokenBucket{MaxTokens: 1, TokensPerFill: 1, FillInterval: time.Hour},
		Enabled: spec.Fraction{Numerator: 100, Denominator: 100}, Enforced: spec.Fraction{Numerator: 100, Denominator: 100}}}
	c, err := Compile([]spec.HTTPFilter{rl}, nil, Env{Scope: "l"})
	if err != nil {
		t.Fatal(err)
	}
	s := &Stream{Request: &route.Request{Method: []byte("GET"), Path: []byte("/")}}
	want := []Step{{Name: "rl", Verdict: Verdict{Detail: "token bucket holds 1 of 1 tokens (+1 every 1h0m0s); enabled for 100%, enforced for 100%"}}}
	for range 3 {
		if diff := cmp.Diff(want, c.Explain(s, -1)); diff != "" {
			t.Fatalf("before a request (-want +got):\n%s", diff)
		}
	}
	s.Reset(s.Request, nil)
	if st := c.RequestHeaders(s, -1); st != Continue {
		t.Fatalf("the first request got %v, want Continue", st)
	}
	got := c.Explain(s, -1)
	if len(got) != 1 || !got[0].Verdict.Stops || got[0].Verdict.Status != 429 {
		t.Errorf("with an empty bucket: %+v, want the first filter to stop with 429", got)
	}
}
