package consul

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
)

// authzTTL is how long an authorization is remembered.
const authzTTL = time.Minute

// ACLAuthorizer authorizes an xDS client by the Consul ACL token it
// presents: the token must have service:write on the node's service,
// which is what Consul's own xDS server requires of a sidecar, as Consul
// answers /v1/internal/acl/authorize for it. (The leaf endpoint is no
// check: the agent serves a leaf it has cached to any token.) Without ACLs
// every token passes, as in Consul. It satisfies xds/server's Authorizer
// and is safe for concurrent use.
type ACLAuthorizer struct {
	url  string // of /v1/internal/acl/authorize
	http *http.Client
	mu   sync.Mutex
	ok   map[[32]byte]time.Time // hash of token and service → when authorized
	now  func() time.Time
}

// Authorizer returns an ACLAuthorizer that asks the source's agent.
func (s *Source) Authorizer() (*ACLAuthorizer, error) {
	hc, err := api.NewHttpClient(s.cfg.Transport, s.cfg.TLSConfig)
	if err != nil {
		return nil, fmt.Errorf("consul: creating the ACL client: %w", err)
	}
	scheme, addr := s.cfg.Scheme, s.cfg.Address
	if scheme == "" {
		scheme = "http"
	}
	if i := strings.Index(addr, "://"); i >= 0 {
		scheme, addr = addr[:i], addr[i+3:]
	}
	return &ACLAuthorizer{url: scheme + "://" + addr + "/v1/internal/acl/authorize", http: hc,
		ok: map[[32]byte]time.Time{}, now: time.Now}, nil
}

// Authorize implements xds/server's Authorizer.
func (a *ACLAuthorizer) Authorize(ctx context.Context, node, service, token string) error {
	if service == "" {
		return fmt.Errorf("node %q is not a connect-proxy in the catalog", node)
	}
	k := sha256.Sum256([]byte(service + "\x00" + token))
	a.mu.Lock()
	at, ok := a.ok[k]
	a.mu.Unlock()
	if ok && a.now().Sub(at) < authzTTL {
		return nil
	}
	if err := a.check(ctx, service, token); err != nil {
		return err
	}
	a.mu.Lock()
	a.ok[k] = a.now()
	a.mu.Unlock()
	return nil
}

// aclRequest and aclAnswer are one request and answer of
// /v1/internal/acl/authorize.
type aclRequest struct{ Resource, Segment, Access string }

type aclAnswer struct {
	aclRequest
	Allow bool
}

// check asks Consul whether token has service:write on service.
func (a *ACLAuthorizer) check(ctx context.Context, service, token string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	body, _ := json.Marshal([]aclRequest{{Resource: "service", Segment: service, Access: "write"}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("checking the token's ACLs: %w", err)
	}
	req.Header.Set("X-Consul-Token", token)
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("checking the token's ACLs: %w", err)
	}
	defer resp.Body.Close()
	var out []aclAnswer
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if strings.Contains(string(msg), "ACL support disabled") {
			return nil // no ACLs: Consul authenticates no one either
		}
		return fmt.Errorf("checking the token's ACLs: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&out); err != nil {
		return fmt.Errorf("checking the token's ACLs: %w", err)
	}
	if len(out) != 1 || !out[0].Allow {
		return fmt.Errorf("the token lacks service:write on %q", service)
	}
	return nil
}
