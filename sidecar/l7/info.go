package l7

import (
	"errors"
	"os"
	"time"

	"github.com/meshlb/meshlb/sidecar/stream"
)

// beginInfo starts the stream info of the request whose head is buffered.
func (s *session) beginInfo(cfg *Config) {
	s.info = stream.Info{Listener: cfg.Listener, Start: time.Now(),
		BytesReceived: -s.rd.consumed, BytesSent: -s.out.sent}
}

// endInfo completes the stream info and hands it to cfg's sink, if any.
// The head may not have been consumed (a local reply that closes): its
// bytes were received all the same.
func (s *session) endInfo(cfg *Config) {
	i := &s.info
	i.Total = time.Since(i.Start)
	i.BytesReceived += s.rd.consumed
	if !s.head.consumed {
		i.BytesReceived += int64(s.head.size)
	}
	i.BytesSent += s.out.sent
	if cfg.StreamDone != nil {
		cfg.StreamDone(i)
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
		return stream.UpstreamConnectionTermination
	case failUpload:
		if errors.Is(f.err, os.ErrDeadlineExceeded) {
			return stream.UpstreamRequestTimeout
		}
		return stream.UpstreamConnectionTermination
	case failClient:
		if errors.Is(f.err, errBadChunk) {
			return stream.DownstreamProtocolError
		}
		return stream.DownstreamConnectionTermination
	}
	return 0
}
