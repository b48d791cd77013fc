package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/meshlb/meshlb/discovery"
)

// fakeSource publishes its catalogs as fast as it can, then returns err, or
// with block set waits for ctx to be done.
type fakeSource struct {
	cats  []*discovery.Catalog
	err   error
	block bool
}

func (f fakeSource) Run(ctx context.Context, publish func(*discovery.Catalog)) error {
	for _, c := range f.cats {
		publish(c)
	}
	if f.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return f.err
}

// burst returns n catalogs that differ in db's weight and web's upstreams.
func burst(t *testing.T, n int) []*discovery.Catalog {
	cats := make([]*discovery.Catalog, n)
	for i := range cats {
		cats[i] = testCatalog(t, func(m map[string]*discovery.Service) {
			m["db"].Endpoints[0].Weight = i%128 + 1
			if i%2 == 1 {
				withCache(m)
			}
		})
	}
	return cats
}

func TestRun(t *testing.T) {
	errSource := errors.New("consul is gone")
	cats := burst(t, 25)
	tests := []struct {
		name    string
		src     fakeSource
		wantErr error
	}{
		{name: "burst then stop", src: fakeSource{cats: cats}},
		{name: "burst then fail", src: fakeSource{cats: cats, err: errSource}, wantErr: errSource},
		{name: "same catalog repeated", src: fakeSource{cats: []*discovery.Catalog{cats[0], cats[0], cats[0]}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(nil)
			err := s.Run(t.Context(), tt.src)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Run = %v, want %v", err, tt.wantErr)
			}
			last := tt.src.cats[len(tt.src.cats)-1]
			for _, svc := range last.Sidecars() {
				if got := nodeState(t, s, last, svc.Sidecar.ID, nil); got != updated {
					t.Errorf("node %q: %s, want the last catalog's snapshot", svc.Sidecar.ID, got)
				}
			}
		})
	}
}

func TestRunStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- New(nil).Run(ctx, fakeSource{cats: burst(t, 5), block: true}) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

// TestRunPublishDoesNotWaitForUpdate holds the server's lock, as a long
// Update of a large catalog does, and checks that the source's publish
// calls still return at once: a discovery loop (Consul's health flips)
// never waits for snapshots to reach the nodes. The last catalog is the one
// applied once the lock is released.
func TestRunPublishDoesNotWaitForUpdate(t *testing.T) {
	cats := burst(t, 10)
	s := New(nil)
	s.mu.Lock()
	locked := true
	defer func() {
		if locked {
			s.mu.Unlock()
		}
	}()
	published := make(chan struct{})
	done := make(chan error, 1)
	src := sourceFunc(func(ctx context.Context, publish func(*discovery.Catalog)) error {
		for _, c := range cats {
			publish(c)
		}
		close(published)
		<-ctx.Done()
		return nil
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { done <- s.Run(ctx, src) }()
	select {
	case <-published:
	case <-time.After(10 * time.Second):
		t.Fatal("publish blocked while an Update was in progress")
	}
	s.mu.Unlock()
	locked = false
	last := cats[len(cats)-1]
	id := last.Sidecars()[0].Sidecar.ID
	deadline := time.Now().Add(10 * time.Second)
	for nodeState(t, s, last, id, nil) != updated {
		if time.Now().After(deadline) {
			t.Fatalf("node %q never got the last catalog's snapshot", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

// sourceFunc is a discovery.Source made of a function.
type sourceFunc func(ctx context.Context, publish func(*discovery.Catalog)) error

func (f sourceFunc) Run(ctx context.Context, publish func(*discovery.Catalog)) error {
	return f(ctx, publish)
}
