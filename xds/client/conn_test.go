package client

import (
	"context"
	"crypto/tls"
	"slices"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/transport"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

// newTLSServer starts an xDS server that serves only over TLS, with a
// certificate of ca.
func newTLSServer(t *testing.T, ca *transporttest.CA) *xdsServer {
	t.Helper()
	cert := ca.Leaf(t, "", "localhost").TLS(t)
	s := &xdsServer{cache: cache.NewSnapshotCache(true, cache.IDHash{}, nil),
		opts: []grpc.ServerOption{grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}}))}}
	s.start(t, "127.0.0.1:0")
	t.Cleanup(s.shutdown)
	return s
}

// clientTLS is the client side of an ADS cluster's UpstreamTlsContext
// trusting ca, as the sidecar builds it from a bootstrap.
func clientTLS(t *testing.T, ca []byte) *tls.Config {
	t.Helper()
	cfg, err := transport.ClientConfig(&spec.UpstreamTLS{TLSCommon: spec.TLSCommon{
		MinVersion: spec.TLS12, MaxVersion: spec.TLS13, Validation: &spec.Validation{TrustedCA: ca}}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The client reaches a TLS control server (an ADS cluster with a transport
// socket, as Consul's bootstrap has when the agent's gRPC port uses TLS)
// and sends its initial_metadata on every stream.
func TestTLSAndInitialMetadata(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := timeout(t)
			ca := transporttest.NewCA(t, "agent-ca")
			srv := newTLSServer(t, ca)
			srv.set(t, "v1", base("10.0.0.1:80"))
			a := &fakeApplier{}
			runClient(t, Options{Targets: []string{srv.addr}, Delta: m.delta, TLS: clientTLS(t, ca.PEM),
				Metadata: []spec.Header{{Key: "x-consul-token", Value: "s3cr3t"}}}, a)
			a.waitFor(ctx, t, baseSummary("10.0.0.1:80"))
			md, err := srv.mds.wait(ctx, func(metadata.MD) bool { return true })
			if err != nil {
				t.Fatal(err)
			}
			if got := md.Get("x-consul-token"); !slices.Equal(got, []string{"s3cr3t"}) {
				t.Errorf("x-consul-token = %q, want [s3cr3t]", got)
			}
		})
	}
}

// A control server whose certificate does not chain to the trusted CA
// gets no stream: nothing is applied.
func TestTLSUntrustedServer(t *testing.T) {
	srv := newTLSServer(t, transporttest.NewCA(t, "other-ca"))
	srv.set(t, "v1", base("10.0.0.1:80"))
	a := &fakeApplier{}
	runClient(t, Options{Targets: []string{srv.addr}, TLS: clientTLS(t, transporttest.NewCA(t, "agent-ca").PEM)}, a)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := srv.reqs.wait(ctx, func(request) bool { return true }); err == nil {
		t.Fatal("the server got a request over an untrusted TLS connection")
	}
	if got := len(a.sets.all()); got != 0 {
		t.Errorf("Apply calls = %d, want 0", got)
	}
}
