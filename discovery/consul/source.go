// Package consul is a [discovery.Source] that follows a Consul datacenter:
// its catalog of services, their health, the Connect sidecar proxies
// registered for them (kind connect-proxy) and the config entries that set
// protocols.
//
// The source holds a fixed, small number of connections to the agent
// whatever the size of the catalog (issue 14): a few blocking queries
// detect what changed, and a bounded pool of workers fetches only the
// services concerned with plain (non-blocking) queries on
// /v1/health/service/:name. The detectors, per datacenter, read:
//   - /v1/health/state/any filtered to the checks that are not passing:
//     a check that turns critical or passing again enters or leaves this
//     set, which names its service (or node), and only that is fetched;
//   - /v1/catalog/services (and its connect-proxy subset, locally) and
//     /v1/catalog/nodes: when the services or nodes index moves, a sweep
//     reads the services of every node with their ModifyIndex (one query
//     per node) and fetches the services whose instances changed, since
//     Consul lists no per-service index;
//   - /v1/config-entry/:kind, one per kind the source reads (local only).
//
// That is 9 blocking queries plus 3 per remote datacenter in use, plus
// [Options.Workers] fetches: 17 connections by default, far below the
// agent's limits.http_max_conns_per_client (200), where one long-poll per
// service ran out at about 150 services. Results meet in a single loop
// where the latest value wins, so a burst of changes costs one rebuild,
// and a catalog whose version did not change is not published.
//
// Errors never reach the catalog: a failing query is retried with backoff
// and jitter, and the last good result of that query is kept; an index
// that goes backwards (Consul restarted or restored) resets the query. An
// agent that refuses a request for a limit (HTTP 429) is logged as an
// error naming the limit, and counted in [Source.Stats].
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
	DefaultWorkers    = 8
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
	// upstreams and what their discovery chains reach). It costs no
	// connection, but more fetches.
	WatchAll bool
	// Workers is how many services are fetched at once, each on its own
	// connection to the agent; zero means DefaultWorkers.
	Workers int
	// WaitTime is the longest a blocking query waits; zero means
	// DefaultWaitTime.
	WaitTime time.Duration
	// MinBackoff and MaxBackoff bound the wait before retrying a failed
	// query; zero means DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Plaintext turns Connect mTLS off: without it, once the agent's
	// Connect CA roots are known, sidecars' public listeners require
	// mesh certificates and clusters to services behind sidecars use
	// mTLS, with intentions enforced.
	Plaintext bool
	// Logger receives the source's logs; nil means [slog.Default].
	Logger *slog.Logger
}

func (o *Options) waitTime() time.Duration   { return orDefault(o.WaitTime, DefaultWaitTime) }
func (o *Options) minBackoff() time.Duration { return orDefault(o.MinBackoff, DefaultMinBackoff) }
func (o *Options) maxBackoff() time.Duration { return orDefault(o.MaxBackoff, DefaultMaxBackoff) }

func (o *Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return DefaultWorkers
}

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
	cfg    *api.Config // of client
	opts   Options
	logger *slog.Logger
	stats  counters
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
	c, err := api.NewClient(pooled(cfg, maxConns(&opts)))
	if err != nil {
		return nil, fmt.Errorf("consul: creating client: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Source{client: c, cfg: cfg, opts: opts, logger: logger.With("component", "discovery-consul")}, nil
}

// maxConns is how many requests one Run keeps in flight to the local
// datacenter: the blocking queries (the Connect CA roots among them) and
// the workers, and the leaf certificate fetchers.
func maxConns(o *Options) int { return 5 + len(entryKinds) + o.workers() + leafFetchers }

// pooled makes cfg's transport keep up to conns idle connections, so that
// the workers reuse their connections instead of opening one per fetch
// (the default pool keeps GOMAXPROCS+1). It changes cfg in place, as
// [api.NewClient] does; a config with its own HttpClient is left alone.
// (A clone of the transport would not do: cloning sets up HTTP/2 on the
// original, which gives it a TLS config, and the clone would then miss
// the CA that NewClient loads from CONSUL_CACERT.)
func pooled(cfg *api.Config, conns int) *api.Config {
	if cfg.HttpClient == nil && cfg.Transport != nil {
		cfg.Transport.MaxIdleConnsPerHost = max(cfg.Transport.MaxIdleConnsPerHost, conns)
	}
	return cfg
}

// Client returns the Consul API client the source queries.
func (s *Source) Client() *api.Client { return s.client }

// Run implements [discovery.Source]. It publishes the first catalog once
// the service list, the config entries and the health of every listed
// service have been read, then every catalog whose version changed, until
// ctx is done; it then stops and joins its queries and returns nil. publish
// is called on Run's goroutine, which applies no Consul result while it
// runs: it must return at once (xds/server's Run hands the catalog over
// through a one-slot, latest-wins handoff and never waits for the push).
// Consul being unreachable is not an error: Run keeps retrying, with the
// last good catalog published.
func (s *Source) Run(ctx context.Context, publish func(*discovery.Catalog)) error {
	l := newLoop(s, publish)
	return l.run(ctx)
}
