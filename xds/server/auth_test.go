package server

import (
	"context"
	"errors"
	"strings"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// fetchAs opens an ADS stream with token (none if empty) and asks for
// node's clusters; it returns the response or the stream's error.
func fetchAs(t *testing.T, env *xdsEnv, node, token string) (*discoverygrpc.DiscoveryResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, TokenHeader, token)
	}
	stream, err := env.client.StreamAggregatedResources(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&discoverygrpc.DiscoveryRequest{Node: &core.Node{Id: node}, TypeUrl: resource.ClusterType}); err != nil {
		return nil, err
	}
	return stream.Recv()
}

// TestTokensAuthorize shows a server with per-node tokens serves a node
// only to a stream carrying its token: no token, another node's token
// and a wrong token get PermissionDenied and no resources.
func TestTokensAuthorize(t *testing.T) {
	env := startServer(t, testCatalog(t, nil))
	env.srv.SetAuthorizer(Tokens{"web-sidecar": "s3cret", "worker": "other"})
	tests := []struct {
		name, node, token string
		ok                bool
	}{
		{"its token", "web-sidecar", "s3cret", true},
		{"no token", "web-sidecar", "", false},
		{"wrong token", "web-sidecar", "guess", false},
		{"another node's token", "web-sidecar", "other", false},
		{"node without a token", "edge", "s3cret", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := fetchAs(t, env, tt.node, tt.token)
			if tt.ok {
				if err != nil || len(resp.GetResources()) == 0 {
					t.Fatalf("got %v, %v; want clusters", resp, err)
				}
				return
			}
			if status.Code(err) != codes.PermissionDenied || resp != nil {
				t.Errorf("got %v, %v; want PermissionDenied and nothing", resp, err)
			}
		})
	}
}

func TestParseTokens(t *testing.T) {
	got, err := ParseTokens(strings.NewReader("# node token\nweb abc\n\n  api  def \n"))
	if err != nil || len(got) != 2 || got["web"] != "abc" || got["api"] != "def" {
		t.Errorf("ParseTokens = %v, %v", got, err)
	}
	for _, bad := range []string{"web\n", "web a b\n", "web a\nweb b\n"} {
		if _, err := ParseTokens(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseTokens(%q) = nil error", bad)
		}
	}
	if err := (Tokens{"web": "abc"}).Authorize(context.Background(), "web", "", ""); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("empty token: %v", err)
	}
}
