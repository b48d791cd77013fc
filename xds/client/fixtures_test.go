package client

import (
	"context"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/config"
)

const (
	testNode    = "node-1"
	testTimeout = 10 * time.Second
)

var modes = []struct {
	name  string
	delta bool
}{{"sotw", false}, {"delta", true}}

// fakeApplier records the Sets it accepts; fail, if set, may reject one.
type fakeApplier struct {
	sets events[*config.Set]
	mu   sync.Mutex
	fail func(*config.Set) error
}

func (a *fakeApplier) Apply(s *config.Set) error {
	a.mu.Lock()
	fail := a.fail
	a.mu.Unlock()
	if fail != nil {
		if err := fail(s); err != nil {
			return err
		}
	}
	a.sets.add(s)
	return nil
}

func (a *fakeApplier) setFail(f func(*config.Set) error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail = f
}

// waitFor waits for an applied Set whose summary is want.
func (a *fakeApplier) waitFor(ctx context.Context, t *testing.T, want summary) *config.Set {
	t.Helper()
	s, err := a.sets.wait(ctx, func(s *config.Set) bool { return summarize(s).equal(want) })
	if err != nil {
		var got summary
		if all := a.sets.all(); len(all) > 0 {
			got = summarize(all[len(all)-1])
		}
		t.Fatalf("no Set applied with %+v; last: %+v: %v", want, got, err)
	}
	return s
}

// last returns the summary of the last applied Set.
func (a *fakeApplier) last() summary {
	all := a.sets.all()
	if len(all) == 0 {
		return summary{}
	}
	return summarize(all[len(all)-1])
}

// summary is the part of a Set the tests check.
type summary struct {
	Listeners []string            // name -> cluster or RDS name
	Clusters  []string            // name/EDS name
	Routes    []string            // names
	Endpoints map[string][]string // EDS name -> addresses
}

func summarize(s *config.Set) summary {
	out := summary{Endpoints: map[string][]string{}}
	for _, l := range s.Listeners {
		target := ""
		if fc := l.FilterChains[0]; fc.TCP != nil {
			target = fc.TCP.Cluster
		} else if fc.HTTP != nil {
			target = "rds:" + fc.HTTP.RDSName
		}
		out.Listeners = append(out.Listeners, l.Name+">"+target)
	}
	for _, c := range s.Clusters {
		out.Clusters = append(out.Clusters, c.Name+"/"+c.EDSName)
	}
	out.Routes = slices.Sorted(maps.Keys(s.Routes))
	for name, la := range s.Endpoints {
		var addrs []string
		for _, e := range la.Endpoints {
			addrs = append(addrs, e.Address)
		}
		out.Endpoints[name] = addrs
	}
	return out
}

func (s summary) equal(o summary) bool {
	return slices.Equal(s.Listeners, o.Listeners) && slices.Equal(s.Clusters, o.Clusters) &&
		slices.Equal(s.Routes, o.Routes) && maps.EqualFunc(s.Endpoints, o.Endpoints, slices.Equal)
}

// runClient runs a client until stop is called or the test ends.
func runClient(t *testing.T, opts Options, a Applier) (c *Client, stop func()) {
	t.Helper()
	opts.NodeID, opts.NodeCluster = testNode, "test"
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BackoffBase == 0 {
		opts.BackoffBase, opts.BackoffMax = 5*time.Millisecond, 50*time.Millisecond
	}
	c = New(opts, a)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return c, stop
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}
