package httpfilter

import (
	"strings"
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

// TestExplainRateLimitZeroFraction: a fraction with numerator 0 (also the
// zero Fraction, 0/0, which sidecar/config cannot produce since it NACKs
// a denominator outside Envoy's enum) is 0%, and a numerator over a zero
// denominator is 100%, for the real check and for Explain alike, with an
// empty bucket so a rolled request would be limited.
func TestExplainRateLimitZeroFraction(t *testing.T) {
	all := spec.Fraction{Numerator: 100, Denominator: 100}
	tests := []struct {
		name              string
		enabled, enforced spec.Fraction
		wantStop          bool
		wantDetail        string
	}{
		{"enforced 0/0", all, spec.Fraction{}, false, "enabled for 100%, enforced for 0%"},
		{"enforced 0/100", all, spec.Fraction{Denominator: 100}, false, "enabled for 100%, enforced for 0%"},
		{"enforced 5/0", all, spec.Fraction{Numerator: 5}, true, "enabled for 100%, enforced for 100%"},
		{"enabled 5/0", spec.Fraction{Numerator: 5}, all, true, "enabled for 100%, enforced for 100%"},
		{"all", all, all, true, "enabled for 100%, enforced for 100%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &spec.HTTPLocalRateLimit{StatPrefix: "rl", Enabled: tt.enabled, Enforced: tt.enforced,
				Bucket: &spec.TokenBucket{MaxTokens: 0, TokensPerFill: 1, FillInterval: time.Hour}}
			c := compileOne(t, LocalRateLimitType, cfg, nil)
			s := &Stream{}
			s.Reset(&route.Request{Method: []byte("GET"), Path: []byte("/")}, nil)
			v := c.Explain(s, -1)[0].Verdict
			for range 20 {
				s.Reset(s.Request, nil)
				if got := c.RequestHeaders(s, -1) == StopReply; got != tt.wantStop {
					t.Fatalf("request stopped = %v, want %v", got, tt.wantStop)
				}
			}
			if v.Stops != tt.wantStop || !strings.Contains(v.Detail, tt.wantDetail) {
				t.Errorf("Explain = stops %v, %q; want stops %v, containing %q", v.Stops, v.Detail, tt.wantStop, tt.wantDetail)
			}
		})
	}
}
