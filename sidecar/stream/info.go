// Package stream holds what a codec and the forwarder share about one
// request stream, whatever the wire format: its [Info] and response
// [Flags]. It imports nothing of the sidecar, so codecs, the forwarder,
// access logs and `meshlb explain` can all depend on it.
package stream

import (
	"net/netip"
	"time"
)

// Flags is a set of Envoy response flags (%RESPONSE_FLAGS%): why a stream
// ended as it did. HTTP filters set theirs (DI, FI, RL) on their own stream
// state, and the forwarder merges them into the stream's Info.
type Flags uint32

// Response flags, as Envoy names them.
const (
	DelayInjected                   Flags = 1 << iota // DI: a fault filter delayed the request
	FaultInjected                                     // FI: a fault filter aborted the request
	RateLimited                                       // RL: a rate limit filter refused the request
	NoHealthyUpstream                                 // UH: the cluster had no usable endpoint
	UpstreamConnectionFailure                         // UF: no connection to the upstream could be made
	UpstreamOverflow                                  // UO: a circuit breaker refused the request
	NoRouteFound                                      // NR: no route matched the request
	UpstreamRetryLimitExceeded                        // URX: the retries ran out
	UpstreamRequestTimeout                            // UT: the route or per-try timeout expired
	UpstreamConnectionTermination                     // UC: the upstream closed or reset the connection
	UpstreamProtocolError                             // UPE: the upstream broke HTTP framing
	DownstreamConnectionTermination                   // DC: the client went away
	DownstreamProtocolError                           // DPE: the client broke HTTP framing
	StreamIdleTimeout                                 // SI: the stream idle timeout expired
	NoClusterFound                                    // NC: the route's cluster does not exist
	UpstreamRemoteReset                               // UR: the upstream reset the stream (HTTP/2 RST_STREAM)
)

var flagNames = [...]string{"DI", "FI", "RL", "UH", "UF", "UO", "NR", "URX", "UT", "UC", "UPE", "DC", "DPE", "SI", "NC", "UR"}

// String returns the flags as Envoy's %RESPONSE_FLAGS% does, e.g. "UF,URX",
// or "-" for none. It allocates; sinks call it, the request path does not.
func (f Flags) String() string {
	return string(f.Append(make([]byte, 0, 16)))
}

// Append appends the flags as String does to dst, without allocating
// when dst has room.
func (f Flags) Append(dst []byte) []byte {
	n := len(dst)
	for i, name := range flagNames {
		if f&(1<<i) == 0 {
			continue
		}
		if len(dst) > n {
			dst = append(dst, ',')
		}
		dst = append(dst, name...)
	}
	if len(dst) == n {
		dst = append(dst, '-')
	}
	return dst
}

// Info is what one request stream did, recorded as it is served: the
// stream's StreamInfo, in Envoy's terms. It is a value the codec keeps
// per connection and reuses, so recording it allocates nothing; its
// strings come from the immutable configuration and the endpoint state,
// never from request bytes, so they stay valid after the stream.
type Info struct {
	Listener string
	// Protocol is the request's protocol as Envoy's %PROTOCOL% says it
	// ("HTTP/1.1"); Addrs are the connection's. The forwarder fills them
	// only when a header format or an access log may read them
	// (forward.Config.Describe).
	Protocol string
	Addrs    Addrs
	// ConnID is the downstream connection's [Conn.ID] and ServerName the
	// SNI its client sent; filled with Addrs.
	ConnID     uint64
	ServerName string
	Route      string // the matched route's name; empty when none matched
	Cluster    string
	Endpoint   string // address of the last endpoint tried
	Attempts   int    // upstream attempts made
	Code       int    // status of the response head sent; 0 if none was
	Flags      Flags
	// BytesReceived counts the request bytes read from the client (head
	// and body); BytesSent the response bytes written to it (interim heads
	// included). A tunnel's bytes after 101 are not counted.
	BytesReceived int64
	BytesSent     int64
	Start         time.Time
	// FirstUpstreamByte is from Start until the upstream's response head
	// was read; 0 if none was. Total is from Start until the response
	// was written whole or the stream failed.
	FirstUpstreamByte time.Duration
	Total             time.Duration
	// RequestDone is from Start until the request was read whole (its
	// body sent upstream, or its head read when it has none); 0 if never.
	RequestDone time.Duration
	// UpstreamFailure says why the last upstream connection or exchange
	// failed (Envoy's upstream transport failure reason); empty if none.
	// Set only where an access log reads it.
	UpstreamFailure string
}

// Addrs are a stream's connection addresses: the client's and the
// listener's, and the local address of the upstream connection when the
// upstream codec tells it. The zero value is unknown.
type Addrs struct {
	Downstream, Local, UpstreamLocal netip.AddrPort
}

// Equal reports whether a and b are the same (go-cmp compares with it).
func (a Addrs) Equal(b Addrs) bool { return a == b }

// Sink receives each stream's info once the stream has ended. It runs on
// the stream's goroutine before the connection serves another request, so
// it must not block, and must not keep info, which is reused: copy it.
type Sink func(info *Info)
