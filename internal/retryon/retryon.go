// Package retryon is the one vocabulary of Envoy retry_on conditions that
// meshlb accepts: the Consul mapping, the xDS decoder and the router all
// read it from here. It imports nothing of meshlb's, so every layer may
// depend on it.
package retryon

import (
	"fmt"
	"strings"
)

// The retry_on conditions meshlb accepts. The router acts on the first
// seven and on the gRPC conditions (a response head's grpc-status);
// envoy-ratelimited and refused-stream are accepted so that
// configurations written for Envoy load, and never fire.
const (
	FiveXX             = "5xx"
	GatewayError       = "gateway-error"
	Reset              = "reset"
	ResetBeforeRequest = "reset-before-request"
	ConnectFailure     = "connect-failure"
	Retriable4xx       = "retriable-4xx"
	// RetriableStatusCodes retries the route's retriable_status_codes.
	RetriableStatusCodes = "retriable-status-codes"
	EnvoyRateLimited     = "envoy-ratelimited"
	RefusedStream        = "refused-stream"
	Cancelled            = "cancelled"
	DeadlineExceeded     = "deadline-exceeded"
	Internal             = "internal"
	ResourceExhausted    = "resource-exhausted"
	Unavailable          = "unavailable"
)

// known is the accepted set. The header-based conditions are absent: they
// need fields meshlb does not implement.
var known = map[string]bool{
	FiveXX: true, GatewayError: true, Reset: true, ResetBeforeRequest: true, RetriableStatusCodes: true,
	ConnectFailure: true, Retriable4xx: true, EnvoyRateLimited: true, RefusedStream: true,
	Cancelled: true, DeadlineExceeded: true, Internal: true, ResourceExhausted: true, Unavailable: true,
}

// Known reports whether name is an accepted retry_on condition.
func Known(name string) bool { return known[name] }

// UnknownError names the conditions Parse did not accept, in input order.
type UnknownError struct{ Names []string }

func (e *UnknownError) Error() string {
	if len(e.Names) == 1 {
		return fmt.Sprintf("condition %q is not supported", e.Names[0])
	}
	q := make([]string, len(e.Names))
	for i, n := range e.Names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return "conditions " + strings.Join(q, ", ") + " are not supported"
}

// Parse splits Envoy's comma-separated retry_on list, trimming spaces and
// skipping empty items. It returns the conditions in input order, or an
// *UnknownError naming every condition that is not accepted.
func Parse(list string) ([]string, error) {
	var out, unknown []string
	for c := range strings.SplitSeq(list, ",") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		if !known[c] {
			unknown = append(unknown, c)
			continue
		}
		out = append(out, c)
	}
	if len(unknown) > 0 {
		return nil, &UnknownError{Names: unknown}
	}
	return out, nil
}
