package consul

import (
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/hashicorp/consul/api"
)

// Stats are a [Source]'s counters since it was created, over all its runs.
// They are meant for an operator's stats page (`meshlb control --admin`).
type Stats struct {
	// Queries is how many requests were sent to the agent, blocking or
	// not, and Errors how many of them failed.
	Queries, Errors uint64
	// RateLimited is how many were refused for a limit (HTTP 429), such
	// as the agent's limits.http_max_conns_per_client.
	RateLimited uint64
	// InFlight is how many requests are in flight now: about the number of
	// connections the source holds to the agent.
	InFlight int64
	// Fetches is how many service health fetches were made after a change.
	Fetches uint64
}

// counters back [Stats]; safe for concurrent use.
type counters struct {
	queries, errors, rateLimited, fetches atomic.Uint64
	inFlight                              atomic.Int64
}

// Stats returns the source's counters. It is safe for concurrent use.
func (s *Source) Stats() Stats {
	c := &s.stats
	return Stats{Queries: c.queries.Load(), Errors: c.errors.Load(), RateLimited: c.rateLimited.Load(),
		InFlight: c.inFlight.Load(), Fetches: c.fetches.Load()}
}

// count wraps q to count its calls and their outcomes.
func count[T any](c *counters, q query[T]) query[T] {
	return func(o *api.QueryOptions) (T, *api.QueryMeta, error) {
		c.queries.Add(1)
		c.inFlight.Add(1)
		v, meta, err := q(o)
		c.inFlight.Add(-1)
		if err != nil && o.Context().Err() == nil {
			c.errors.Add(1)
			if rateLimited(err) {
				c.rateLimited.Add(1)
			}
		}
		return v, meta, err
	}
}

// rateLimited reports whether err is the agent refusing a request for a
// limit: limits.http_max_conns_per_client answers 429 and closes the
// connection.
func rateLimited(err error) bool {
	var status api.StatusError
	return errors.As(err, &status) && status.Code == http.StatusTooManyRequests
}
