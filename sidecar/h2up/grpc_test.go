package h2up

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// grpcBackend is a real grpc-go server (h2c on loopback) whose every
// method is handled by handle.
func grpcBackend(t *testing.T, handle func(method string, s grpc.ServerStream) error) string {
	t.Helper()
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, s grpc.ServerStream) error {
		m, _ := grpc.MethodFromServerStream(s)
		return handle(m, s)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return ln.Addr().String()
}

// echo answers each message with the same bytes.
func echo(s grpc.ServerStream) error {
	for {
		m := new(wrapperspb.BytesValue)
		if err := s.RecvMsg(m); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if err := s.SendMsg(m); err != nil {
			return err
		}
	}
}

// grpcFrame is one length-prefixed gRPC message holding b.
func grpcFrame(b []byte) []byte {
	m, _ := proto.Marshal(wrapperspb.Bytes(b))
	out := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(m)))
	return append(out, m...)
}

// grpcCall makes a gRPC call as an HTTP/1.1 client would write it (the
// sidecar translates to HTTP/2 upstream) and returns the HTTP status,
// the grpc-status (from the trailers, or the head of a trailers-only
// response), the response body and how long it took.
func grpcCall(t *testing.T, c *http.Client, url string, body []byte, header http.Header) (int, string, []byte, time.Duration) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	st := resp.Trailer.Get("Grpc-Status")
	if st == "" {
		st = resp.Header.Get("Grpc-Status")
	}
	return resp.StatusCode, st, got, time.Since(start)
}

// TestGRPCRetry: a gRPC call answered UNAVAILABLE (a trailers-only
// response) is retried under retry_on unavailable, its request body sent
// again; conditions the policy does not name are relayed as they are.
func TestGRPCRetry(t *testing.T) {
	var calls atomic.Int32
	addr := grpcBackend(t, func(method string, s grpc.ServerStream) error {
		n := calls.Add(1)
		switch {
		case method == "/t.S/Internal":
			return status.Error(codes.Internal, "broken")
		case n == 1:
			return status.Error(codes.Unavailable, "not yet")
		}
		return echo(s)
	})
	rt := prefixRoute(5 * time.Second)
	rt.Action.Retry = &spec.RetryPolicy{On: []string{"unavailable", "cancelled"}, NumRetries: 2}
	sc := startSidecar(t, rt, spec.UpstreamHTTP{}, time.Hour, addr)
	c := h1Client()
	defer c.CloseIdleConnections()
	frame := grpcFrame([]byte("ping"))
	code, st, body, _ := grpcCall(t, c, "http://"+sc.addr+"/t.S/Echo", frame, nil)
	if code != 200 || st != "0" || !bytes.Equal(body, frame) {
		t.Errorf("retried call: %d grpc-status %q body %q, want 200, 0 and the echo", code, st, body)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("upstream calls = %d, want 2", n)
	}
	if n := sc.cluster.Stats.RqRetry.Load(); n != 1 {
		t.Errorf("upstream_rq_retry = %d, want 1", n)
	}
	calls.Store(10)
	code, st, _, _ = grpcCall(t, c, "http://"+sc.addr+"/t.S/Internal", frame, nil)
	if code != 200 || st != "13" || calls.Load() != 11 {
		t.Errorf("internal: %d grpc-status %q after %d calls, want 200, 13 after 1", code, st, calls.Load()-10)
	}
}

// TestGRPCTimeoutHeader: with max_stream_duration.grpc_timeout_header_max
// a request's grpc-timeout is its timeout (capped, less the offset) in
// place of the route's 5s; without, the route timeout (200ms) holds
// whatever the header says.
func TestGRPCTimeoutHeader(t *testing.T) {
	addr := grpcBackend(t, func(method string, s grpc.ServerStream) error {
		time.Sleep(600 * time.Millisecond) // not bound by the call's deadline
		return echo(s)
	})
	tests := []struct {
		name     string
		grpc     *spec.GRPCTimeout
		header   string
		wantCode int
		min, max time.Duration
	}{
		{"header capped", &spec.GRPCTimeout{Max: 150 * time.Millisecond}, "10S", 504, 130 * time.Millisecond, 500 * time.Millisecond},
		{"offset", &spec.GRPCTimeout{Offset: 100 * time.Millisecond}, "250m", 504, 130 * time.Millisecond, 500 * time.Millisecond},
		{"header ignored", nil, "10S", 504, 180 * time.Millisecond, 500 * time.Millisecond},
		{"no header", &spec.GRPCTimeout{}, "", 200, 550 * time.Millisecond, 3 * time.Second},
	}
	// The sidecar's deadline is always shorter than the header's here:
	// grpc-go resets a stream at its own deadline (503 UR), which would
	// race a 504 at the same instant.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := prefixRoute(5 * time.Second)
			if tt.grpc == nil {
				rt.Action.Timeout = 200 * time.Millisecond
			}
			rt.Action.GRPCTimeout = tt.grpc
			sc := startSidecar(t, rt, spec.UpstreamHTTP{}, time.Hour, addr)
			c := h1Client()
			defer c.CloseIdleConnections()
			h := http.Header{}
			if tt.header != "" {
				h.Set("Grpc-Timeout", tt.header)
			}
			code, _, _, took := grpcCall(t, c, "http://"+sc.addr+"/t.S/Sleep", grpcFrame([]byte("x")), h)
			if code != tt.wantCode || took < tt.min || took > tt.max {
				t.Errorf("got %d after %v, want %d after %v to %v", code, took, tt.wantCode, tt.min, tt.max)
			}
		})
	}
}

// TestGRPCLongStream: with route timeout 0s a server stream whose head
// comes late and that lasts longer than any default timeout window is
// relayed whole, message by message as they come.
func TestGRPCLongStream(t *testing.T) {
	addr := grpcBackend(t, func(method string, s grpc.ServerStream) error {
		m := new(wrapperspb.BytesValue)
		if err := s.RecvMsg(m); err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond)
		for i := range 5 {
			if err := s.SendMsg(wrapperspb.Bytes([]byte{byte('a' + i)})); err != nil {
				return err
			}
			time.Sleep(100 * time.Millisecond)
		}
		return nil
	})
	sc := startSidecar(t, prefixRoute(0), spec.UpstreamHTTP{}, time.Hour, addr)
	c := h1Client()
	defer c.CloseIdleConnections()
	code, st, body, took := grpcCall(t, c, "http://"+sc.addr+"/t.S/Stream", grpcFrame([]byte("go")), nil)
	var want []byte
	for i := range 5 {
		want = append(want, grpcFrame([]byte{byte('a' + i)})...)
	}
	if code != 200 || st != "0" || !bytes.Equal(body, want) || took < 700*time.Millisecond {
		t.Errorf("got %d grpc-status %q body %q after %v, want 200, 0, five messages after 800ms", code, st, body, took)
	}
}

// TestGRPCRewrittenHeadToHTTP1: when the forwarder writes a response head
// it rewrote (here response_headers_to_add) to an HTTP/1.1 client, the
// head keeps the chunked framing and Trailer declaration the HTTP/2
// response needs, so the client gets the body's end and the trailers
// (before the fix it got neither and waited for its timeout).
func TestGRPCRewrittenHeadToHTTP1(t *testing.T) {
	addr := grpcBackend(t, func(_ string, s grpc.ServerStream) error { return echo(s) })
	rt := prefixRoute(5 * time.Second)
	rt.Headers.ResponseAdd = []spec.HeaderAdd{{Name: "x-added", Value: "yes"}}
	sc := startSidecar(t, rt, spec.UpstreamHTTP{}, time.Hour, addr)
	c := h1Client()
	c.Timeout = 3 * time.Second
	defer c.CloseIdleConnections()
	frame := grpcFrame([]byte("ping"))
	code, st, body, took := grpcCall(t, c, "http://"+sc.addr+"/t.S/Echo", frame, nil)
	if code != 200 || st != "0" || !bytes.Equal(body, frame) || took > 2*time.Second {
		t.Errorf("got %d grpc-status %q body %q after %v, want 200, 0 and the echo at once", code, st, body, took)
	}
}
