package forward

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
func (f *forwarder) earlyResponse(ex Exchange, ep *cluster.Endpoint, o attemptOpts, fail *attemptError) (result, *attemptError) {
	defer ex.Done(ep, false)
	f.st.CloseAfter()
	if o.timeout <= 0 || o.timeout > earlyWait {
		o.timeout = earlyWait
	}
	o.retryStatus = nil
	res, _, early := f.relay(ex, o)
	switch {
	case early == nil:
		return res, nil
	case early.kind == failRelay:
		return result{}, early
	}
	return result{}, fail
}

// failUpload answers a request whose upload the upstream failed, with no
// early answer: 504 if the upstream stopped reading for the stream idle
// timeout, 502 otherwise. Both count as upstream failures.
func (f *forwarder) failUpload(cl *cluster.Cluster, fail *attemptError) (int, bool) {
	if errors.Is(fail.err, os.ErrDeadlineExceeded) {
		cl.Stats.RqTimeout.Add(1)
		return 504, f.st.Reply(LocalReply{Code: 504, Body: "upstream timeout while sending the request body\n", Close: true})
	}
	return 502, f.st.Reply(LocalReply{Code: 502, Body: "upstream failed while sending the request body\n", Close: true})
}

// hardDeadline is now+timeout, or zero for a timeout that is not positive.
func (f *forwarder) hardDeadline(timeout time.Duration) time.Time {
	if timeout <= 0 {
		return time.Time{}
	}
	return f.clock().Add(timeout)
}
