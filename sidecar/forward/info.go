package forward

import (
	"errors"
	"os"
	"time"

	"github.com/meshlb/meshlb/sidecar/stream"
)

// finish completes the stream info and hands it to the configuration's
// sink, if any.
func (f *forwarder) finish() {
	i := f.info
	i.Total = time.Since(i.Start)
	f.ss.Now = i.Start.Add(i.Total)
	i.BytesReceived, i.BytesSent = f.st.Bytes()
	f.cfg.Stats.RqTime.Record(i.Total)
	if f.cl != nil { // upstream_rq_time, from the same clock reading
		f.cl.Stats.RqTime.Record(i.Total)
	}
	if f.cfg.AccessLog != nil {
		f.cfg.AccessLog.Log(i, &f.ss.log)
	}
	if f.cfg.StreamDone != nil {
		f.cfg.StreamDone(i)
	}
}

// failFlags are the response flags of a request whose last attempt
// failed as f says.
func failFlags(f *attemptError) stream.Flags {
	switch f.kind {
	case failConnect:
		return stream.UpstreamConnectionFailure
	case failTimeout:
		return stream.UpstreamRequestTimeout
	case failOverflow:
		return stream.UpstreamOverflow
	case failBadResponse:
		return stream.UpstreamProtocolError
	case failReset, failRelay:
		if errors.Is(f.err, ErrUpstreamReset) {
			return stream.UpstreamRemoteReset
		}
		return stream.UpstreamConnectionTermination
	case failUpload:
		if errors.Is(f.err, os.ErrDeadlineExceeded) {
			return stream.UpstreamRequestTimeout
		}
		return stream.UpstreamConnectionTermination
	case failClient:
		if errors.Is(f.err, ErrMalformedBody) {
			return stream.DownstreamProtocolError
		}
		return stream.DownstreamConnectionTermination
	}
	return 0
}
