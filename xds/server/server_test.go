package server

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/meshlb/meshlb/discovery"
)

// Expected state of a node after the second Update.
const (
	kept    = "kept"    // the very same snapshot as after the first Update
	updated = "updated" // a new snapshot, equal to Translate of the new catalog
	cleared = "cleared" // no snapshot
)

func TestUpdate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(map[string]*discovery.Service)
		wantErr string
		want    map[string]string
	}{
		{
			name: "same catalog",
			want: map[string]string{"web-sidecar": kept, "worker": kept, "edge": kept},
		},
		{
			name: "only nodes calling api change",
			edit: func(m map[string]*discovery.Service) { m["api"].Endpoints[0].Weight = 9 },
			want: map[string]string{"web-sidecar": updated, "worker": kept, "edge": updated},
		},
		{
			name: "vanished node is cleared",
			edit: func(m map[string]*discovery.Service) { delete(m, "worker") },
			want: map[string]string{"web-sidecar": kept, "worker": cleared, "edge": kept},
		},
		{
			name: "failed node keeps its snapshot, others update",
			edit: func(m map[string]*discovery.Service) {
				m["db"].Endpoints[0].Port = 5433
				m["local_app"] = &discovery.Service{Name: "local_app"}
				sc := m["web"].Sidecar
				sc.Upstreams = append(sc.Upstreams, discovery.Upstream{Service: "local_app", BindPort: 9100})
			},
			wantErr: `translating node "web-sidecar"`,
			want:    map[string]string{"web-sidecar": kept, "worker": updated, "edge": updated},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			s := New(slog.New(slog.DiscardHandler))
			if err := s.Update(ctx, testCatalog(t, nil)); err != nil {
				t.Fatalf("first Update: %v", err)
			}
			before := map[string]any{}
			for node := range tt.want {
				before[node], _ = s.Cache().GetSnapshot(node)
			}
			next := testCatalog(t, tt.edit)
			err := s.Update(ctx, next)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("second Update error = %v, want %q", err, tt.wantErr)
			}
			for node, want := range tt.want {
				if got := nodeState(t, s, next, node, before[node]); got != want {
					t.Errorf("node %q: %s, want %s", node, got, want)
				}
			}
		})
	}
}

// nodeState reports whether node's snapshot in s is the one it had before,
// a new one equal to Translate(cat, node), or gone.
func nodeState(t *testing.T, s *Server, cat *discovery.Catalog, node string, before any) string {
	t.Helper()
	snap, err := s.Cache().GetSnapshot(node)
	switch {
	case err != nil:
		return cleared
	case any(snap) == before:
		return kept
	}
	want, err := Translate(cat, node)
	if err != nil {
		return "changed although its translation fails: " + err.Error()
	}
	if got, want := snapshotVersion(snap.(*cache.Snapshot)), snapshotVersion(want); got != want {
		return "updated to version " + got + ", not " + want
	}
	return updated
}

func TestUpdateConcurrent(t *testing.T) {
	s := New(nil)
	cats := []*discovery.Catalog{
		testCatalog(t, nil),
		testCatalog(t, func(m map[string]*discovery.Service) { m["db"].Endpoints[0].Weight = 3 }),
	}
	done := make(chan error, len(cats))
	for _, c := range cats {
		go func() { done <- s.Update(context.Background(), c) }()
	}
	for range cats {
		if err := <-done; err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	for _, svc := range cats[0].Sidecars() {
		if _, err := s.Cache().GetSnapshot(svc.Sidecar.ID); err != nil {
			t.Errorf("node %q: %v", svc.Sidecar.ID, err)
		}
	}
}
