package discovery

import (
	"fmt"
	"regexp"
	"time"
)

// Route is one L7 route of a service's routing table: requests for the
// service that match go to its destinations. It is what a source compiles
// from its traffic-management rules (Consul's service-router,
// service-splitter and service-resolver entries).
type Route struct {
	Match RouteMatch `json:"match"`
	// Destinations are catalog services, each of whose endpoints form a
	// cluster; one destination takes every request, several split requests
	// by Weight.
	Destinations []Destination `json:"destinations"`
	// Timeout bounds the whole upstream response; zero means the
	// translator's default.
	Timeout       time.Duration `json:"timeout,omitempty"`
	Retry         *Retry        `json:"retry,omitempty"`
	PrefixRewrite string        `json:"prefix_rewrite,omitempty"`
	// HashPolicies make the request hash for the destinations' hashing
	// balancers (Consul: the first hash-based service-resolver's).
	HashPolicies []HashPolicy `json:"hash_policies,omitempty"`
}

// Destination is one target of a route.
type Destination struct {
	Service string `json:"service"`
	// Weight is relative to the route's other destinations; ignored when
	// there is only one.
	Weight int `json:"weight,omitempty"`
}

// RouteMatch selects requests; the zero value matches every request. All
// the criteria that are set must hold.
type RouteMatch struct {
	// At most one of PathExact, PathPrefix and PathRegex (RE2, whole path).
	PathExact  string `json:"path_exact,omitempty"`
	PathPrefix string `json:"path_prefix,omitempty"`
	PathRegex  string `json:"path_regex,omitempty"`
	// CaseInsensitive compares the path without regard to case.
	CaseInsensitive bool          `json:"case_insensitive,omitempty"`
	Methods         []string      `json:"methods,omitempty"` // any of them
	Headers         []HeaderMatch `json:"headers,omitempty"`
	Query           []QueryMatch  `json:"query,omitempty"`
}

// HeaderMatch matches one request header: at most one of Exact, Prefix,
// Suffix and Regex, or Present; Invert negates the match.
type HeaderMatch struct {
	Name    string `json:"name"`
	Present bool   `json:"present,omitempty"`
	Exact   string `json:"exact,omitempty"`
	Prefix  string `json:"prefix,omitempty"`
	Suffix  string `json:"suffix,omitempty"`
	Regex   string `json:"regex,omitempty"`
	Invert  bool   `json:"invert,omitempty"`
}

// QueryMatch matches one query parameter: Exact, Regex, or Present.
type QueryMatch struct {
	Name    string `json:"name"`
	Present bool   `json:"present,omitempty"`
	Exact   string `json:"exact,omitempty"`
	Regex   string `json:"regex,omitempty"`
}

// Retry retries failed upstream attempts.
type Retry struct {
	NumRetries int `json:"num_retries"`
	// On lists Envoy retry_on conditions, e.g. "5xx", "connect-failure".
	On []string `json:"on,omitempty"`
	// StatusCodes are the statuses retried under the
	// "retriable-status-codes" condition (Envoy's retriable_status_codes).
	StatusCodes   []uint32      `json:"status_codes,omitempty"`
	PerTryTimeout time.Duration `json:"per_try_timeout,omitempty"`
}

// IsCatchAll reports whether m matches every request.
func (m *RouteMatch) IsCatchAll() bool {
	return m.PathExact == "" && m.PathRegex == "" && (m.PathPrefix == "" || m.PathPrefix == "/") &&
		len(m.Methods) == 0 && len(m.Headers) == 0 && len(m.Query) == 0
}

// validateRouting checks s's routes and failover against the catalog.
func (c *Catalog) validateRouting(s *Service) error {
	if s.ConnectTimeout < 0 {
		return fmt.Errorf("connect_timeout: %v is negative", s.ConnectTimeout)
	}
	for i, f := range s.Failover {
		if _, ok := c.byName[f]; !ok || f == s.Name {
			return fmt.Errorf("failover[%d]: %q is not another service in the catalog", i, f)
		}
	}
	for i := range s.Routes {
		if err := c.validateRoute(&s.Routes[i]); err != nil {
			return fmt.Errorf("routes[%d].%w", i, err)
		}
	}
	return nil
}

func (c *Catalog) validateRoute(r *Route) error {
	if len(r.Destinations) == 0 {
		return fmt.Errorf("destinations: at least one is required")
	}
	total := 0
	for i, d := range r.Destinations {
		if _, ok := c.byName[d.Service]; !ok {
			return fmt.Errorf("destinations[%d].service: unknown service %q", i, d.Service)
		}
		if d.Weight < 0 {
			return fmt.Errorf("destinations[%d].weight: %d is negative", i, d.Weight)
		}
		total += d.Weight
	}
	if len(r.Destinations) > 1 && total == 0 {
		return fmt.Errorf("destinations: weights must not all be zero")
	}
	if r.Timeout < 0 || (r.Retry != nil && (r.Retry.NumRetries < 0 || r.Retry.PerTryTimeout < 0)) {
		return fmt.Errorf("timeout or retry: durations and counts must not be negative")
	}
	return validateMatch(&r.Match)
}

func validateMatch(m *RouteMatch) error {
	paths := 0
	for _, p := range []string{m.PathExact, m.PathPrefix, m.PathRegex} {
		if p != "" {
			paths++
		}
	}
	if paths > 1 {
		return fmt.Errorf("match: at most one of path_exact, path_prefix and path_regex")
	}
	regexes := []string{m.PathRegex}
	for _, h := range m.Headers {
		regexes = append(regexes, h.Regex)
	}
	for _, q := range m.Query {
		regexes = append(regexes, q.Regex)
	}
	for _, re := range regexes {
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("match: regex %q: %w", re, err)
		}
	}
	return nil
}
