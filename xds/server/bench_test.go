package server

import (
	"context"
	"testing"
)

// BenchmarkTranslate translates a 100-service catalog in which every
// service has a sidecar with an inbound port and 3 upstreams.
func BenchmarkTranslate(b *testing.B) {
	cat := bigCatalog(b, 100)
	b.Run("one node", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Translate(cat, "svc-042"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("all nodes, shared", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			frags := newFragments()
			for _, svc := range cat.Sidecars() {
				if _, _, err := translateService(cat, svc, frags, nil, true); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("all nodes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, svc := range cat.Sidecars() {
				if _, _, err := translateService(cat, svc, nil, nil, true); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkUpdateUnchanged measures Update with a catalog whose snapshots
// are all already published: every node is translated and skipped.
func BenchmarkUpdateUnchanged(b *testing.B) {
	cat := bigCatalog(b, 100)
	s := New(nil)
	ctx := context.Background()
	if err := s.Update(ctx, cat); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Update(ctx, cat); err != nil {
			b.Fatal(err)
		}
	}
}
