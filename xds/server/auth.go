package server

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TokenHeader is the gRPC metadata key that carries a sidecar's token, as
// Consul's xDS server reads ACL tokens. "authorization: Bearer <token>"
// is accepted too.
const TokenHeader = "x-consul-token"

// Authorizer decides whether a client that presented token may have the
// configuration of node, whose sidecar proxies for service. It is called
// once per stream and node, off the response path; it must be safe for
// concurrent use. A nil error authorizes.
type Authorizer interface {
	Authorize(ctx context.Context, node, service, token string) error
}

// ErrUnauthorized is returned (wrapped) by authorizers that refuse a
// token.
var ErrUnauthorized = errors.New("token not valid for this node")

// Tokens is an [Authorizer] of per-node tokens: node id → token.
type Tokens map[string]string

// Authorize accepts exactly node's token.
func (t Tokens) Authorize(_ context.Context, node, _, token string) error {
	want, ok := t[node]
	if !ok || token == "" || subtle.ConstantTimeCompare([]byte(want), []byte(token)) != 1 {
		return ErrUnauthorized
	}
	return nil
}

// ParseTokens reads "node-id token" lines; blank lines and lines
// starting with # are skipped.
func ParseTokens(r io.Reader) (Tokens, error) {
	out := Tokens{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want \"node-id token\"", n)
		}
		if _, dup := out[f[0]]; dup {
			return nil, fmt.Errorf("line %d: node %q listed twice", n, f[0])
		}
		out[f[0]] = f[1]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading tokens: %w", err)
	}
	return out, nil
}

// SetAuthorizer makes the server serve a node only to streams whose token
// a authorizes for it; nil (the default) serves every node to anyone.
// Call it before serving.
func (s *Server) SetAuthorizer(a Authorizer) { s.auth.Store(&authorizer{a}) }

// authorizer boxes an Authorizer for atomic.Pointer.
type authorizer struct{ Authorizer }

// authorizer returns s's Authorizer, nil for none.
func (s *Server) authorizer() Authorizer {
	if a := s.auth.Load(); a != nil {
		return a.Authorizer
	}
	return nil
}

// streamAuth is the authorization state of one stream: its token, from
// the metadata at open, and the node it was authorized for.
type streamAuth struct {
	token string
	node  string // authorized; "" until the first request passes
}

// authStreams tracks the streams of a Server with an Authorizer.
type authStreams struct {
	mu      sync.Mutex
	streams map[int64]*streamAuth
}

// open records the token of stream id from ctx's metadata.
func (a *authStreams) open(ctx context.Context, id int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.streams == nil {
		a.streams = make(map[int64]*streamAuth)
	}
	a.streams[id] = &streamAuth{token: tokenFrom(ctx)}
}

func (a *authStreams) close(id int64) {
	a.mu.Lock()
	delete(a.streams, id)
	a.mu.Unlock()
}

// tokenFrom returns the token in ctx's incoming metadata.
func tokenFrom(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(TokenHeader); len(v) > 0 {
		return v[0]
	}
	for _, v := range md.Get("authorization") {
		if tok, ok := strings.CutPrefix(v, "Bearer "); ok {
			return tok
		}
	}
	return ""
}

// check authorizes a request of stream id for node: once per stream and
// node. A refused stream fails with PermissionDenied and gets nothing.
func (s *Server) check(id int64, node *core.Node) error {
	auth := s.authorizer()
	if auth == nil {
		return nil
	}
	s.authStreams.mu.Lock()
	st := s.authStreams.streams[id]
	s.authStreams.mu.Unlock()
	if st == nil {
		return status.Error(codes.PermissionDenied, "stream not opened")
	}
	// Later requests of a stream may omit the node (delta streams, and
	// set_node_on_first_message_only): it is the one already authorized.
	if st.node != "" && (node.GetId() == "" || st.node == node.GetId()) {
		return nil
	}
	err := auth.Authorize(context.Background(), node.GetId(), s.serviceOf(node.GetId()), st.token)
	if err != nil {
		s.logger.Warn("refused an xDS stream", "stream", id, "node", node.GetId(), "err", err)
		return status.Errorf(codes.PermissionDenied, "node %q: %v", node.GetId(), err)
	}
	s.authStreams.mu.Lock()
	st.node = node.GetId()
	s.authStreams.mu.Unlock()
	return nil
}

// serviceOf returns the service node's sidecar proxies for, in the last
// catalog applied; "" if unknown.
func (s *Server) serviceOf(node string) string {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	return s.identities[node]
}
