// Package consul is a [discovery.Source] that follows a Consul datacenter:
// its catalog of services, their health, the Connect sidecar proxies
// registered for them (kind connect-proxy) and the config entries that set
// protocols.
//
// The source reads Consul the way Consul's own xDS server does, with
// blocking queries: one on /v1/catalog/services, one per service on
// /v1/health/service/:name and one per config entry kind. Every query runs
// in its own goroutine, owned and joined by [Source.Run]; results meet in a
// single loop where the latest value wins, so a burst of changes costs one
// rebuild, and a catalog whose version did not change is not published.
//
// Errors never reach the catalog: a failing query is retried with backoff
// and jitter, and the last good result of that query is kept; an index
// that goes backwards (Consul restarted or restored) resets the query.
package consul

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
)

// Defaults for the zero fields of [Options].
const (
	DefaultWaitTime   = 5 * time.Minute
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
)

// Options configure a [Source]. The zero value reads the Consul agent named
// by the standard environment (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN,
// CONSUL_CACERT, CONSUL_CLIENT_CERT, ...).
type Options struct {
	// Config is the Consul client configuration; nil means
	// [api.DefaultConfig], which reads the environment.
	Config *api.Config
	// WarningAs is the health of an instance whose worst check is warning:
	// [discovery.HealthHealthy] (the default, as in Consul's own xDS
	// server, which only excludes critical instances) or
	// [discovery.HealthUnhealthy].
	WarningAs discovery.Health
	// WatchAll watches the health of every service in the datacenter, not
	// only those the mesh uses (connect-proxies, what they front, their
	// upstreams and what their discovery chains reach). Each watched
	// service holds one HTTP long-poll to the agent: mind the agent's
	// limits.http_max_conns_per_client (default 200).
	WatchAll bool
	// WaitTime is the longest a blocking query waits; zero means
	// DefaultWaitTime.
	WaitTime time.Duration
	// MinBackoff and MaxBackoff bound the wait before retrying a failed
	// query; zero means DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives the source's logs; nil means [slog.Default].
	Logger *slog.Logger
}

func (o *Options) waitTime() time.Duration   { return orDefault(o.WaitTime, DefaultWaitTime) }
func (o *Options) minBackoff() time.Duration { return orDefault(o.MinBackoff, DefaultMinBackoff) }
func (o *Options) maxBackoff() time.Duration { return orDefault(o.MaxBackoff, DefaultMaxBackoff) }

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Source is a [discovery.Source] backed by Consul. Create one with [New].
// Run may be called more than once, even concurrently; each call has its
// own queries and state.
type Source struct {
	client *api.Client
	opts   Options
	logger *slog.Logger
}

var _ discovery.Source = (*Source)(nil)

// New returns a Source for opts. It does not contact Consul.
func New(opts Options) (*Source, error) {
	switch opts.WarningAs {
	case "":
		opts.WarningAs = discovery.HealthHealthy
	case discovery.HealthHealthy, discovery.HealthUnhealthy:
	default:
		return nil, fmt.Errorf("consul: WarningAs %q is not one of healthy, unhealthy", opts.WarningAs)
	}
	cfg := opts.Config
	if cfg == nil {
		cfg = api.DefaultConfig()
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("consul: creating client: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Source{client: c, opts: opts, logger: logger.With("component", "discovery-consul")}, nil
}

// Client returns the Consul API client the source queries.
func (s *Source) Client() *api.Client { return s.client }

// Run implements [discovery.Source]. It publishes the first catalog once
// the service list, the config entries and the health of every listed
// service have been read, then every catalog whose version changed, until
// ctx is done; it then stops and joins its queries and returns nil. publish
// is called on Run's goroutine. Consul being unreachable is not an error:
// Run keeps retrying, with the last good catalog published.
func (s *Source) Run(ctx context.Context, publish func(*discovery.Catalog)) error {
	l := newLoop(s, publish)
	return l.run(ctx)
}
