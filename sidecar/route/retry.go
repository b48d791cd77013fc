package route

import (
	"slices"
	"time"

	"github.com/meshlb/meshlb/internal/retryon"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// RetryOn is a set of retry conditions, compiled from Envoy's retry_on.
type RetryOn uint16

// Retry conditions the router acts on. The others Envoy defines
// (refused-stream, envoy-ratelimited) compile to nothing. The gRPC
// conditions read the grpc-status of a response head (a trailers-only
// gRPC response, as Envoy).
const (
	// Retry5xx: any 5xx response, a reset, a connect failure or a per-try
	// timeout.
	Retry5xx RetryOn = 1 << iota
	// RetryGatewayError: a 502, 503 or 504 response, a reset, a connect
	// failure or a per-try timeout.
	RetryGatewayError
	// RetryReset: a reset or a timeout before a response.
	RetryReset
	// RetryConnectFailure: a connect failure.
	RetryConnectFailure
	// RetryRetriable4xx: a 409 response.
	RetryRetriable4xx
	// RetryStatusCodes: a response whose status is one of Retry.Codes.
	RetryStatusCodes
	// RetryGRPCCancelled ... RetryGRPCUnavailable: a response head with
	// grpc-status CANCELLED (1), DEADLINE_EXCEEDED (4), RESOURCE_EXHAUSTED
	// (8), INTERNAL (13) or UNAVAILABLE (14).
	RetryGRPCCancelled
	RetryGRPCDeadlineExceeded
	RetryGRPCResourceExhausted
	RetryGRPCInternal
	RetryGRPCUnavailable
)

// retryGRPC is every gRPC condition.
const retryGRPC = RetryGRPCCancelled | RetryGRPCDeadlineExceeded | RetryGRPCResourceExhausted |
	RetryGRPCInternal | RetryGRPCUnavailable

// grpcCodes maps a gRPC status code to its retry condition.
var grpcCodes = map[int]RetryOn{1: RetryGRPCCancelled, 4: RetryGRPCDeadlineExceeded,
	8: RetryGRPCResourceExhausted, 13: RetryGRPCInternal, 14: RetryGRPCUnavailable}

// retryNames maps the conditions the engine acts on to their bits; the
// vocabulary itself is internal/retryon's.
var retryNames = map[string]RetryOn{
	retryon.FiveXX: Retry5xx, retryon.GatewayError: RetryGatewayError, retryon.Reset: RetryReset,
	retryon.ResetBeforeRequest: RetryReset, retryon.ConnectFailure: RetryConnectFailure,
	retryon.Retriable4xx: RetryRetriable4xx, retryon.RetriableStatusCodes: RetryStatusCodes,
	retryon.Cancelled:        RetryGRPCCancelled,
	retryon.DeadlineExceeded: RetryGRPCDeadlineExceeded, retryon.ResourceExhausted: RetryGRPCResourceExhausted,
	retryon.Internal: RetryGRPCInternal, retryon.Unavailable: RetryGRPCUnavailable,
}

// Retry is a compiled retry policy.
type Retry struct {
	On         RetryOn
	NumRetries int
	// PerTry bounds each attempt; 0 means the route timeout alone.
	PerTry time.Duration
	// PreviousHosts makes a retry prefer endpoints the request has not
	// tried, asking the balancer again up to HostAttempts times (Envoy's
	// previous_hosts predicate and host_selection_retry_max_attempts).
	PreviousHosts bool
	HostAttempts  int
	// PriorityEvery, when positive, makes a retry after every that many
	// attempts skip the priority levels the request tried (Envoy's
	// previous_priorities retry priority and its update_frequency).
	PriorityEvery int
	// Codes are the statuses RetryStatusCodes retries.
	Codes []int
}

func compileRetry(p *spec.RetryPolicy) *Retry {
	if p == nil {
		return nil
	}
	r := &Retry{NumRetries: p.NumRetries, PerTry: p.PerTry,
		PreviousHosts: p.PreviousHosts, HostAttempts: p.HostSelectionAttempts, Codes: p.RetriableStatusCodes,
		PriorityEvery: int(p.PreviousPriorities)}
	for _, c := range p.On {
		r.On |= retryNames[c]
	}
	return r
}

// RetriesStatus reports whether a response with status code is retried.
func (r *Retry) RetriesStatus(code int) bool {
	switch {
	case r.On&Retry5xx != 0 && code >= 500:
		return true
	case r.On&RetryGatewayError != 0 && (code == 502 || code == 503 || code == 504):
		return true
	case r.On&RetryRetriable4xx != 0 && code == 409:
		return true
	case r.On&RetryStatusCodes != 0 && slices.Contains(r.Codes, code):
		return true
	}
	return false
}

// RetriesReset reports whether a reset or a timeout before the response is
// retried.
func (r *Retry) RetriesReset() bool {
	return r.On&(Retry5xx|RetryGatewayError|RetryReset) != 0
}

// RetriesConnect reports whether a connect failure is retried.
func (r *Retry) RetriesConnect() bool {
	return r.On&(Retry5xx|RetryGatewayError|RetryReset|RetryConnectFailure) != 0
}

// RetriesGRPC reports whether a response head with grpc-status code is
// retried.
func (r *Retry) RetriesGRPC(code int) bool {
	c, ok := grpcCodes[code]
	return ok && r.On&c != 0
}

// HasGRPC reports whether the policy retries on gRPC statuses.
func (r *Retry) HasGRPC() bool { return r.On&retryGRPC != 0 }
