package forward

import (
	"io"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/route"
)

// replayLimit bounds the request body kept for a retry; a longer body is
// not retried (as Envoy's per_request_buffer_limit_bytes, smaller).
const replayLimit = 64 << 10

// replayBody is a [Stream] whose request body, read through the generic
// body path, is kept while it fits in replayLimit so that a retry can
// send it again (gRPC requests always have a body). It is used only for
// requests to multiplexed (HTTP/2) clusters under a retry policy, whose
// upstream codec reads bodies through ReadBody.
type replayBody struct {
	Stream
	buf  []byte
	pos  int  // the next byte of buf to read again
	over bool // the body outgrew replayLimit: no retry
	eof  bool
}

// ReadBody implements [Stream]: the kept bytes first, then the client's.
func (r *replayBody) ReadBody(p []byte) (int, error) {
	if r.pos < len(r.buf) {
		n := copy(p, r.buf[r.pos:])
		r.pos += n
		return n, nil
	}
	if r.eof {
		return 0, io.EOF
	}
	n, err := r.Stream.ReadBody(p)
	if !r.over {
		if len(r.buf)+n > replayLimit {
			r.over, r.buf = true, nil
		} else {
			r.buf = append(r.buf, p[:n]...)
		}
		r.pos = len(r.buf)
	}
	if err == io.EOF {
		r.eof = true
	}
	return n, err
}

// rewind makes the body read again from its start, reporting false when
// it was not kept whole.
func (r *replayBody) rewind() bool {
	if r.over {
		return false
	}
	r.pos = 0
	return true
}

// replayable wraps f's stream for retries of a request with a body to a
// multiplexed cluster under a retry policy; it reports whether it did.
func (f *forwarder) replayable(rt *route.Route, cl *cluster.Cluster) bool {
	if rt.Retry == nil || rt.Retry.NumRetries == 0 || !f.st.Framing().HasBody || !f.multiplexed(cl) {
		return false
	}
	f.replay = &replayBody{Stream: f.st}
	f.st = f.replay
	return true
}

// bodyRetryable reports whether the request can be sent again: it has no
// body, or its body was kept whole (and is rewound for the next try).
func (f *forwarder) bodyRetryable() bool {
	if !f.st.Framing().HasBody {
		return true
	}
	return f.replay != nil && f.replay.rewind()
}
