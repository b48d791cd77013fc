package spec

import "time"

// HTTPFilter is one HTTP filter of an HTTP connection manager, before the
// router (which is always last and is not listed), or one entry of a
// route's or virtual host's typed_per_filter_config.
type HTTPFilter struct {
	// Name is the filter's name in http_filters, the key that
	// typed_per_filter_config uses.
	Name string
	// TypeURL is the Envoy type URL of the filter's configuration; it
	// selects the builder registered in sidecar/httpfilter.
	TypeURL string
	// Config is the decoded configuration, of the type the builder for
	// TypeURL expects (e.g. *HTTPLocalRateLimit, *Fault).
	Config any
}

// Fraction is Envoy's type.v3.FractionalPercent: Numerator out of
// Denominator (100, 10,000 or 1,000,000).
type Fraction struct {
	Numerator, Denominator uint32
}

// HeaderValue is one header to add (Envoy's HeaderValueOption).
type HeaderValue struct {
	Name, Value string
	// Overwrite replaces any header of the same name instead of adding
	// one more (append_action OVERWRITE_IF_EXISTS_OR_ADD, or append false).
	Overwrite bool
}

// HTTPLocalRateLimit is envoy.extensions.filters.http.local_ratelimit.v3.
// LocalRateLimit: a token bucket in front of the router.
type HTTPLocalRateLimit struct {
	StatPrefix string
	// Status answers limited requests (429 unless set to 400 or more).
	Status int
	// Bucket is nil when there is none (allowed at the listener level,
	// where per-route configurations bring their own).
	Bucket *TokenBucket
	// Enabled and Enforced are the fractions of requests the limit is
	// checked for, and of those, enforced on (0% when unset, as Envoy).
	Enabled, Enforced Fraction
	// RequestHeadersWhenNotEnforced are added to limited requests that
	// are forwarded because the limit is not enforced for them.
	RequestHeadersWhenNotEnforced []HeaderValue
	// ResponseHeaders are added to the local reply of limited requests.
	ResponseHeaders []HeaderValue
}

// Fault is envoy.extensions.filters.http.fault.v3.HTTPFault: injected
// delays and aborts, for chaos tests. At least one of Delay and Abort is
// set.
type Fault struct {
	Delay *FaultDelay
	Abort *FaultAbort
	// Headers must all match for a fault to be considered.
	Headers []HeaderMatch
	// MaxActiveFaults bounds the faults in progress; nil: no bound.
	MaxActiveFaults *uint32
}

// FaultDelay delays a fraction of requests before they are forwarded.
type FaultDelay struct {
	// Fixed is the delay; 0 when FromHeader.
	Fixed time.Duration
	// FromHeader takes the delay in ms from x-envoy-fault-delay-request
	// (and the fraction's numerator, capped by Percent's, from
	// x-envoy-fault-delay-request-percentage).
	FromHeader bool
	Percent    Fraction
}

// FaultAbort answers a fraction of requests with an error status.
type FaultAbort struct {
	// Status is the HTTP status; 0 when FromHeader.
	Status int
	// FromHeader takes the status from x-envoy-fault-abort-request (and
	// the fraction's numerator, capped by Percent's, from
	// x-envoy-fault-abort-request-percentage).
	FromHeader bool
	Percent    Fraction
	// Body is the reply's body ("fault filter abort" by default).
	Body string
}
