package client

import (
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshlb/meshlb/internal/atomicfile"
	"github.com/meshlb/meshlb/sidecar/config"
)

func TestBackoff(t *testing.T) {
	b := backoff{base: 10 * time.Millisecond, max: 50 * time.Millisecond}
	ceilings := []time.Duration{10, 20, 40, 50, 50}
	for round := range 2 {
		for i, c := range ceilings {
			if d := b.next(); d <= 0 || d > c*time.Millisecond {
				t.Errorf("round %d delay %d = %v, want in (0, %v]", round, i, d, c*time.Millisecond)
			}
		}
		b.reset()
	}
}

func TestPacer(t *testing.T) {
	p := pacer{base: time.Hour, max: time.Hour}
	defer p.stop()
	errA, errB := errors.New("a"), errors.New("b")
	steps := []struct {
		version string
		err     error // nil: ACK
		delayed bool
	}{
		{"v2", errA, false},
		{"v2", errA, true}, // the server resent the rejected version
		{"v2", errB, false},
		{"v3", errB, false},
		{"v3", nil, false},
		{"v3", errB, false}, // after an ACK, a NACK is new again
	}
	for i, s := range steps {
		if s.err == nil {
			p.ack(kindCluster)
			continue
		}
		if d := p.nack(kindCluster, s.version, s.err); (d > 0) != s.delayed {
			t.Errorf("step %d: delay %v, want delayed %v", i, d, s.delayed)
		}
	}
	p.hold(kindCluster, "n1", errA, time.Hour)
	if p.C() == nil || len(p.due()) != 0 {
		t.Errorf("held NACK: C() = %v, due() = %v; want a timer and nothing due", p.C(), p.due())
	}
	if h, ok := p.take(kindCluster); !ok || h.nonce != "n1" || p.C() != nil {
		t.Errorf("take = %+v, %v; C() = %v; want the held NACK and no timer", h, ok, p.C())
	}
}

// specs builds a resource map from decoded specs, for state tests.
func specs[T any](name func(*T) string, vs ...*T) map[string]*resource {
	m := map[string]*resource{}
	for _, v := range vs {
		m[name(v)] = &resource{name: name(v), spec: v}
	}
	return m
}

func clusterSpecs(cs ...*config.Cluster) map[string]*resource {
	return specs(func(c *config.Cluster) string { return c.Name }, cs...)
}

func TestSettleClusters(t *testing.T) {
	eds := func(name, service string) *config.Cluster {
		return &config.Cluster{Name: name, Type: config.DiscoveryEDS, EDSName: service}
	}
	static := &config.Cluster{Name: "s", Type: config.DiscoveryStatic}
	la := func(names ...string) map[string]*resource {
		return specs(func(l *config.LoadAssignment) string { return l.ClusterName },
			func() (out []*config.LoadAssignment) {
				for _, n := range names {
					out = append(out, &config.LoadAssignment{ClusterName: n})
				}
				return out
			}()...)
	}
	tests := []struct {
		name       string
		received   map[string]*resource
		active     map[string]*resource
		endpoints  map[string]*resource
		wantActive map[string]string // cluster -> EDS name
		wantEDS    []string          // subscribed and kept
	}{
		{"static is active at once", clusterSpecs(static), nil, nil, map[string]string{"s": ""}, nil},
		{"new EDS cluster warms", clusterSpecs(eds("a", "a")), nil, nil, map[string]string{}, nil},
		{"EDS cluster with endpoints", clusterSpecs(eds("a", "a")), nil, la("a"), map[string]string{"a": "a"}, []string{"a"}},
		{"previous version stays while the new one warms", clusterSpecs(eds("a", "a2")), clusterSpecs(eds("a", "a1")),
			la("a1"), map[string]string{"a": "a1"}, []string{"a1"}},
		{"warmed version replaces the previous one", clusterSpecs(eds("a", "a2")), clusterSpecs(eds("a", "a1")),
			la("a1", "a2"), map[string]string{"a": "a2"}, []string{"a2"}},
		{"removed cluster goes at once", clusterSpecs(), clusterSpecs(eds("a", "a1")), la("a1"), map[string]string{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newState()
			s.res[kindCluster], s.res[kindEndpoint] = tc.received, tc.endpoints
			if tc.endpoints == nil {
				s.res[kindEndpoint] = map[string]*resource{}
			}
			if tc.active != nil {
				s.active[kindCluster] = tc.active
			}
			s.settle(&config.Set{})
			got := map[string]string{}
			for name, r := range s.active[kindCluster] {
				got[name] = r.spec.(*config.Cluster).EDSName
			}
			if diff := cmp.Diff(tc.wantActive, got); diff != "" {
				t.Errorf("active (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantEDS, slices.Sorted(maps.Keys(s.res[kindEndpoint]))); diff != "" {
				t.Errorf("load assignments kept (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good := mustAny(edsCluster("a", "", clusterv3.Cluster_ROUND_ROBIN))
	tests := []struct {
		name  string
		items []item
		want  string
	}{
		{"wrong type", []item{{a: mustAny(loadAssignment("a"))}}, "resource of type"},
		{"sent twice", []item{{a: good}, {a: good}}, `cluster "a": sent twice`},
		{"name mismatch", []item{{a: good, name: "b"}}, `cluster "a": sent under the name "b"`},
		{"not a message", []item{{a: &anypb.Any{TypeUrl: good.GetTypeUrl(), Value: []byte{0xff}}}}, "cluster"},
		{"wrapped", []item{{a: mustAny(&discoveryv3.Resource{Name: "b", Resource: good})}}, `sent under the name "b"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, bad := decodeAll(kindCluster, tc.items, nil)
			if err := nackError(bad); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decodeAll error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestStateFileRoundTrip(t *testing.T) {
	s := newState()
	fresh, bad := decodeAll(kindCluster, []item{
		{a: mustAny(edsCluster("a", "a2", clusterv3.Cluster_ROUND_ROBIN)), version: "h2"},
	}, nil)
	if err := nackError(bad); err != nil {
		t.Fatal(err)
	}
	old, bad := decodeAll(kindCluster, []item{
		{a: mustAny(edsCluster("a", "a1", clusterv3.Cluster_ROUND_ROBIN)), version: "h1"},
	}, nil)
	if err := nackError(bad); err != nil {
		t.Fatal(err)
	}
	s.res[kindCluster], s.active[kindCluster] = fresh, old
	s.version[kindCluster], s.seen[kindCluster], s.seen[kindListener] = "v7", true, true
	data, err := encodeState(s)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sub", stateFile)
	if err := atomicfile.Write(path, data); err != nil {
		t.Fatal(err)
	}
	got, err := readState(path)
	if err != nil {
		t.Fatal(err)
	}
	type view struct{ Version, Res, ResVersion, Active string }
	v := func(s *state) view {
		return view{s.version[kindCluster], edsName(s.res[kindCluster]["a"].spec.(*config.Cluster)),
			s.res[kindCluster]["a"].version, edsName(s.active[kindCluster]["a"].spec.(*config.Cluster))}
	}
	if diff := cmp.Diff(v(s), v(got)); diff != "" {
		t.Errorf("state after a round trip (-want +got):\n%s", diff)
	}
	if got, err := readState(filepath.Join(t.TempDir(), stateFile)); got != nil || err != nil {
		t.Errorf("readState(missing) = %v, %v; want nil, nil", got, err)
	}
}
