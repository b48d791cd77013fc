package sidecar

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/meshlb/meshlb/internal/loopback"
	"github.com/meshlb/meshlb/sidecar/httpfilter/grpcbridge"
)

// TestConsulGRPCHTTP1Bridge: on Consul's listener for protocol grpc, the
// grpc_http1_bridge filter answers an HTTP/1.1 client's unary gRPC call
// (grpc-go server upstream over h2c) with its grpc-status and
// grpc-message in the response head, 503 for a failed call, and the body
// framed by a content-length; a response over the bridge's buffer limit
// is answered 500, as Envoy answers it; a grpc-go client over HTTP/2 through the
// same listener gets the call's own status.
func TestConsulGRPCHTTP1Bridge(t *testing.T) {
	// An unknown method answers a message one byte over the bridge's
	// buffer limit.
	big := &wrapperspb.BytesValue{Value: make([]byte, grpcbridge.BufferLimit)}
	g := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, st grpc.ServerStream) error {
		return st.SendMsg(big)
	}))
	healthpb.RegisterHealthServer(g, health.NewServer())
	_, addr := consulGRPCSidecar(t, g, "explicit_http_config: {http2_protocol_options: {}}")

	type want struct {
		Status                  int
		GRPCStatus, GRPCMessage string
		ContentLength           string
		Trailer                 int
		Serving                 bool
	}
	for _, tc := range []struct {
		name    string
		service string
		want    want
	}{
		{"ok", "", want{Status: 200, GRPCStatus: "0", ContentLength: "7", Serving: true}},
		{"unknown service", "nope", want{Status: 503, GRPCStatus: "5", GRPCMessage: "unknown service", ContentLength: "0"}},
		{"response over the limit", "big", want{Status: 500, ContentLength: "21"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/grpc.health.v1.Health/Check"
			if tc.service == "big" {
				path = "/big/Get"
			}
			resp, body := postHTTP1GRPC(t, addr, path, &healthpb.HealthCheckRequest{Service: tc.service})
			got := want{Status: resp.StatusCode, GRPCStatus: resp.Header.Get("grpc-status"),
				GRPCMessage: resp.Header.Get("grpc-message"), ContentLength: resp.Header.Get("content-length"),
				Trailer: len(resp.Trailer)}
			if resp.StatusCode == 200 && len(body) >= 5 {
				var m healthpb.HealthCheckResponse
				if err := proto.Unmarshal(body[5:], &m); err != nil {
					t.Fatalf("response message: %v", err)
				}
				got.Serving = m.GetStatus() == healthpb.HealthCheckResponse_SERVING
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("HTTP/1.1 call (-want +got):\n%s", diff)
			}
		})
	}

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hc := healthpb.NewHealthClient(conn)
	if resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("HTTP/2 call: %v, %v", resp, err)
	}
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"}); grpcstatus.Code(err) != codes.NotFound {
		t.Errorf("HTTP/2 call of an unknown service: %v, want NotFound", err)
	}
}

// postHTTP1GRPC makes a unary gRPC call to path at addr over HTTP/1.1 and
// returns the response and its body, read whole.
func postHTTP1GRPC(t *testing.T, addr, path string, m proto.Message) (*http.Response, []byte) {
	t.Helper()
	msg, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	frame = append(frame, msg...)
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	req := "POST " + path + " HTTP/1.1\r\nHost: backend\r\nContent-Type: application/grpc\r\nTE: trailers\r\n" +
		"Content-Length: " + strconv.Itoa(len(frame)) + "\r\n\r\n"
	if _, err := c.Write(append([]byte(req), frame...)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return resp, body
}

// TestGRPCHTTP1BridgeHTTP1Upstream: an HTTP/1.1 call to a cluster that
// speaks the downstream's protocol reaches an HTTP/1.1 upstream, whose
// chunked body and trailers the bridge turns into a head with the
// grpc-status and grpc-message, 503, and a content-length.
func TestGRPCHTTP1BridgeHTTP1Upstream(t *testing.T) {
	ln := loopback.Listen(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
		w.Write([]byte{0, 0, 0, 0, 2, 8, 1})
		w.(http.Flusher).Flush()
		w.Header().Set("Grpc-Status", "7")
		w.Header().Set("Grpc-Message", "denied")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	_, addr := consulSidecarFor(t, ln.Addr().String(), "use_downstream_protocol_config: {http_protocol_options: {}, http2_protocol_options: {}}")
	resp, body := postHTTP1GRPC(t, addr, "/pkg.S/M", &healthpb.HealthCheckRequest{})
	got := []string{strconv.Itoa(resp.StatusCode), resp.Header.Get("grpc-status"), resp.Header.Get("grpc-message"),
		resp.Header.Get("content-length"), strconv.Itoa(len(body))}
	if diff := cmp.Diff([]string{"503", "7", "denied", "7", "7"}, got); diff != "" {
		t.Errorf("status, grpc-status, grpc-message, content-length, body bytes (-want +got):\n%s", diff)
	}
}
