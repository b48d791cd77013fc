package health

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestGRPCCheck runs the check against grpc-go's own health service: the
// per-service status decides, NOT_SERVING fails at once, an unknown
// service fails, and authority and metadata are sent.
func TestGRPCCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var authority, md atomic.Value
	hs := health.NewServer()
	hs.SetServingStatus("api", healthpb.HealthCheckResponse_SERVING)
	s := grpc.NewServer(grpc.ChainUnaryInterceptor(recordMD(&authority, &md)))
	healthpb.RegisterHealthServer(s, hs)
	go s.Serve(ln)
	defer s.Stop()

	for _, tt := range []struct {
		service string
		status  healthpb.HealthCheckResponse_ServingStatus
		want    result
	}{
		{"api", healthpb.HealthCheckResponse_SERVING, pass},
		{"", healthpb.HealthCheckResponse_SERVING, pass},
		{"api", healthpb.HealthCheckResponse_NOT_SERVING, fail},
		{"other", healthpb.HealthCheckResponse_SERVING, fail}, // NotFound
	} {
		if tt.service != "other" {
			hs.SetServingStatus(tt.service, tt.status)
		}
		cfg := fastCheck()
		cfg.GRPC = &spec.GRPCHealthCheck{ServiceName: tt.service, Authority: "api.local", Metadata: []spec.HeaderValue{{Name: "x-hc", Value: "1"}}}
		c := testChecker(cfg)
		if got := c.check(t.Context(), &cluster.State{Addr: ln.Addr().String()}); got != tt.want {
			t.Errorf("service %q %v: check = %v, want %v", tt.service, tt.status, got, tt.want)
		}
	}
	if authority.Load() != "api.local" || md.Load() != "1" {
		t.Errorf("the server saw authority %v and x-hc %v, want api.local and 1", authority.Load(), md.Load())
	}
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln2.Addr().String()
	ln2.Close()
	cfg := fastCheck()
	cfg.GRPC = &spec.GRPCHealthCheck{Authority: "x"}
	if got := testChecker(cfg).check(t.Context(), &cluster.State{Addr: addr}); got != network {
		t.Errorf("check of a closed port = %v, want network", got)
	}
}

func recordMD(authority, md *atomic.Value) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if m, ok := metadata.FromIncomingContext(ctx); ok {
			if a := m.Get(":authority"); len(a) > 0 {
				authority.Store(a[0])
			}
			if v := m.Get("x-hc"); len(v) > 0 {
				md.Store(v[0])
			}
		}
		return h(ctx, req)
	}
}
