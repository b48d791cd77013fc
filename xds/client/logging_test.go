package client

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestComponentLoggedOnce checks that every line the client logs names its
// component exactly once, NACKs included.
func TestComponentLoggedOnce(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := timeout(t)
			srv := newXDSServer(t)
			srv.set(t, "v1", base("10.0.0.1:80"))
			var buf syncBuffer
			logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			a := &fakeApplier{}
			_, stop := runClient(t, Options{Targets: []string{srv.addr}, Delta: m.delta, Logger: logger}, a)
			a.waitFor(ctx, t, baseSummary("10.0.0.1:80"))
			srv.set(t, "v2", with(nil, nil, "10.0.0.1:80", "bad address"))
			if _, err := srv.reqs.wait(ctx, func(r request) bool { return r.errDetail != "" }); err != nil {
				t.Fatalf("no NACK: %v", err)
			}
			stop()
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			for _, line := range lines {
				if n := strings.Count(line, "component="); n != 1 {
					t.Errorf("component logged %d times in %q", n, line)
				}
			}
			if !strings.Contains(buf.String(), "msg=NACK") {
				t.Errorf("no NACK logged:\n%s", buf.String())
			}
		})
	}
}
