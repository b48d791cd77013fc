package consul

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/hashicorp/consul/api"
)

// LookupSidecar returns the service id of the connect-proxy registered on
// the local Consul agent for service, the way `consul connect envoy
// -sidecar-for` finds it: the proxy whose Proxy.DestinationServiceID is
// service or, when none is, whose DestinationServiceName is. It fails when
// no proxy or more than one matches. The id is the sidecar's xDS node id.
func LookupSidecar(ctx context.Context, c *api.Client, service string) (string, error) {
	services, err := c.Agent().ServicesWithFilterOpts("", (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("failed to list the agent's services: %w", err)
	}
	var byID, byName []string
	for id, s := range services {
		if !isProxy(s) {
			continue
		}
		if s.Proxy.DestinationServiceID == service {
			byID = append(byID, id)
		}
		if s.Proxy.DestinationServiceName == service {
			byName = append(byName, id)
		}
	}
	ids := byID
	if len(ids) == 0 {
		ids = byName
	}
	slices.Sort(ids)
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("no connect-proxy for service %q is registered on the local agent", service)
	case 1:
		return ids[0], nil
	default:
		return "", fmt.Errorf("several connect-proxies for service %q on the local agent (%s): use -proxy-id",
			service, strings.Join(ids, ", "))
	}
}

// ErrNotProxy is returned by [CheckProxy] when the agent answered and has
// no connect-proxy with the id.
var ErrNotProxy = errors.New("not a connect-proxy registered on the local agent")

// CheckProxy verifies that id is a connect-proxy registered on the local
// agent, for `meshlb sidecar -proxy-id`. Errors wrap [ErrNotProxy] when the
// agent answered but has no such proxy.
func CheckProxy(ctx context.Context, c *api.Client, id string) error {
	s, _, err := c.Agent().Service(id, (&api.QueryOptions{}).WithContext(ctx))
	var status api.StatusError
	switch {
	case errors.As(err, &status) && status.Code == http.StatusNotFound, err == nil && s == nil:
		return fmt.Errorf("service %q: %w", id, ErrNotProxy)
	case err != nil:
		return fmt.Errorf("failed to look up proxy %q on the local agent: %w", id, err)
	case !isProxy(s):
		return fmt.Errorf("service %q (kind %q): %w", id, s.Kind, ErrNotProxy)
	}
	return nil
}
