package forward

import (
	"errors"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/meshlb/meshlb/sidecar/stream"
)

// The forwarder is tested through real sockets with the HTTP/1 codec in
// sidecar/l7 (TestResponseFlags and the proxy tests there); these are its
// codec-free decisions.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFailFlags(t *testing.T) {
	timeout := &SourceError{Err: os.ErrDeadlineExceeded}
	tests := []struct {
		name string
		fail *attemptError
		want stream.Flags
	}{
		{"connect", &attemptError{failConnect, errors.New("refused")}, stream.UpstreamConnectionFailure},
		{"timeout", &attemptError{failTimeout, errDeadline}, stream.UpstreamRequestTimeout},
		{"overflow", &attemptError{failOverflow, errOverflow}, stream.UpstreamOverflow},
		{"bad response", &attemptError{failBadResponse, ErrMalformedResponse}, stream.UpstreamProtocolError},
		{"reset", &attemptError{failReset, errors.New("EOF")}, stream.UpstreamConnectionTermination},
		{"upload timeout", &attemptError{failUpload, os.ErrDeadlineExceeded}, stream.UpstreamRequestTimeout},
		{"bad body", &attemptError{failClient, ErrMalformedBody}, stream.DownstreamProtocolError},
		{"client gone", &attemptError{failClient, &SourceError{Err: errors.New("EOF")}}, stream.DownstreamConnectionTermination},
		{"client slow", &attemptError{failClientTimeout, timeout}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := failFlags(tc.fail); got != tc.want {
				t.Errorf("failFlags = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSendFailure(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		reused bool
		fr     Framing
		want   failKind
	}{
		{"malformed body", ErrMalformedBody, false, Framing{HasBody: true}, failClient},
		{"client slow", &SourceError{Err: os.ErrDeadlineExceeded}, false, Framing{HasBody: true}, failClientTimeout},
		{"upstream failed during upload", errors.New("broken pipe"), false, Framing{HasBody: true}, failUpload},
		{"stale pooled connection", errors.New("broken pipe"), true, Framing{Replayable: true}, failStale},
		{"reset", errors.New("broken pipe"), false, Framing{}, failReset},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sendFailure(tc.err, tc.reused, tc.fr).kind; got != tc.want {
				t.Errorf("kind = %d, want %d", got, tc.want)
			}
		})
	}
}
