package forward

import (
	"regexp"
	"testing"
)

// TestInternal shows which clients may keep their own x-request-id at the
// edge: loopback and private addresses (Envoy's historical default).
func TestInternal(t *testing.T) {
	for peer, want := range map[string]bool{"127.0.0.1": true, "10.1.2.3": true, "192.168.0.9": true, "::1": true,
		"192.0.2.1": false, "2001:db8::1": false, "": false} {
		if got := internal([]byte(peer)); got != want {
			t.Errorf("internal(%q) = %t, want %t", peer, got, want)
		}
	}
}

func TestUUID4(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	var id [36]byte
	for range 100 {
		uuid4(&id)
		if !re.Match(id[:]) {
			t.Fatalf("uuid4 = %q, not a UUIDv4", id[:])
		}
	}
}

func BenchmarkUUID4(b *testing.B) {
	var id [36]byte
	b.ReportAllocs()
	for b.Loop() {
		uuid4(&id)
	}
}
