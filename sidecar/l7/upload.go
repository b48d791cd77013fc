package l7

import (
	"errors"
	"os"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
)

// earlyWait bounds the wait for an upstream's early answer once sending
// it the request body has failed.
const earlyWait = time.Second

// earlyResponse handles an upstream that failed while the request body was
// being sent to it. An upstream often answers before reading a whole body
// (a 413, say) and closes: that answer is relayed, and the client
// connection closed since the rest of its body is unread. Without an
// answer the attempt failed upstream, never by the client's fault (issue
// 7, item 6). The upstream connection is closed.
func (s *session) earlyResponse(cfg *Config, u *upstream, ep *cluster.Endpoint, o attemptOpts, fail *attemptError) (result, *attemptError) {
	defer u.done(ep, false)
	s.head.close = true
	s.linger = true
	if o.timeout <= 0 || o.timeout > earlyWait {
		o.timeout = earlyWait
	}
	o.retryStatus = nil
	res, _, f := s.relay(cfg, u, o)
	switch {
	case f == nil:
		return res, nil
	case f.kind == failRelay:
		return result{}, f
	}
	return result{}, fail
}

// failUpload answers a request whose upload the upstream failed, with no
// early answer: 504 if the upstream stopped reading for the stream idle
// timeout, 502 otherwise. Both count as upstream failures.
func (s *session) failUpload(cl *cluster.Cluster, f *attemptError) (int, bool) {
	s.head.close = true
	if errors.Is(f.err, os.ErrDeadlineExceeded) {
		cl.Stats.RqTimeout.Add(1)
		return 504, s.respondError(504, "upstream timeout while sending the request body")
	}
	return 502, s.respondError(502, "upstream failed while sending the request body")
}

// hardDeadline is now+timeout, or zero for a timeout that is not positive.
func hardDeadline(timeout time.Duration) time.Time {
	if timeout <= 0 {
		return time.Time{}
	}
	return time.Now().Add(timeout)
}
