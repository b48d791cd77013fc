package als

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/meshlb/meshlb/internal/loopback"
	"github.com/meshlb/meshlb/sidecar/accesslog"
	"github.com/meshlb/meshlb/sidecar/accesslog/als/alstest"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func dialTo(addr string) Dialer {
	return func(ctx context.Context, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

func testConfig(addr string) Config {
	return Config{NodeID: "web-1", NodeCluster: "web", Dial: dialTo(addr), Logger: slog.New(slog.DiscardHandler),
		Counter: func(string) *atomicCounter { return new(atomicCounter) }}
}

func entry(code int) *accesslog.Entry {
	e := accesslog.NewEntry()
	e.Info = stream.Info{Protocol: "HTTP/2", Code: code, Cluster: "be", Endpoint: "10.0.0.2:80", Route: "r", Attempts: 1,
		Start: time.Unix(1700000000, 0), Total: 12 * time.Millisecond, BytesReceived: 3, BytesSent: 4,
		Flags: stream.UpstreamRetryLimitExceeded, Addrs: stream.Addrs{Downstream: netip.MustParseAddrPort("192.0.2.1:4000")}}
	e.Request = append(e.Request, accesslog.Field{Name: ":method", Value: []byte("POST")},
		accesslog.Field{Name: ":path", Value: []byte("/a?b=1")}, accesslog.Field{Name: "x-request-id", Value: []byte("id")},
		accesslog.Field{Name: "x-extra", Value: []byte("e")})
	e.Trailers = append(e.Trailers, accesslog.Field{Name: "grpc-status", Value: []byte("0")})
	return e
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: timed out", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestStreamsEntries sends HTTP entries to a real access log service:
// the first message names the node and log, and the entries carry the
// stream's info as Envoy's HTTPAccessLogEntry does.
func TestStreamsEntries(t *testing.T) {
	srv := alstest.StartServer(t)
	c, err := New(&spec.GRPCAccessLog{LogName: "mesh", Cluster: "als", FlushInterval: 10 * time.Millisecond}, false, testConfig(srv.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(entry(200))
	c.Write(entry(503))
	var got []string
	waitFor(t, "2 entries", func() bool {
		got = got[:0]
		for _, m := range srv.Messages() {
			for _, e := range m.GetHttpLogs().GetLogEntry() {
				got = append(got, e.GetResponse().GetResponseCode().String())
			}
		}
		return len(got) == 2
	})
	msgs := srv.Messages()
	id := msgs[0].GetIdentifier()
	if id.GetLogName() != "mesh" || id.GetNode().GetId() != "web-1" || id.GetNode().GetCluster() != "web" {
		t.Errorf("identifier %v", id)
	}
	e := msgs[0].GetHttpLogs().GetLogEntry()[0]
	want := `common_properties:{downstream_remote_address:{socket_address:{address:"192.0.2.1" port_value:4000}} ` +
		`start_time:{seconds:1700000000} time_to_last_downstream_tx_byte:{nanos:12000000} upstream_remote_address:{socket_address:{address:"10.0.0.2" port_value:80}} ` +
		`upstream_cluster:"be" response_flags:{upstream_retry_limit_exceeded:true} route_name:"r" downstream_direct_remote_address:{socket_address:{address:"192.0.2.1" port_value:4000}} ` +
		`duration:{nanos:12000000} upstream_request_attempt_count:1} protocol_version:HTTP2 ` +
		`request:{request_method:POST path:"/a?b=1" request_id:"id" request_body_bytes:3 request_headers:{key:"x-extra" value:"e"}} ` +
		`response:{response_code:{value:200} response_body_bytes:4 response_trailers:{key:"grpc-status" value:"0"} response_code_details:"via_upstream"}`
	if diff := cmp.Diff(want, compact(e.String())); diff != "" {
		t.Errorf("entry (-want +got):\n%s", diff)
	}
}

// TestTCPEntries sends a TCP entry.
func TestTCPEntries(t *testing.T) {
	srv := alstest.StartServer(t)
	c, err := New(&spec.GRPCAccessLog{LogName: "tcp", Cluster: "als", FlushInterval: 10 * time.Millisecond}, true, testConfig(srv.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(entry(0))
	waitFor(t, "a TCP entry", func() bool {
		for _, m := range srv.Messages() {
			for _, e := range m.GetTcpLogs().GetLogEntry() {
				return e.GetConnectionProperties().GetReceivedBytes() == 3 && e.GetConnectionProperties().GetSentBytes() == 4 &&
					e.GetCommonProperties().GetUpstreamCluster() == "be"
			}
		}
		return false
	})
}

// TestDeadPeer: a service that accepts connections and never answers, and
// one that refuses them, never block Write; entries are dropped and
// counted, and Close returns.
func TestDeadPeer(t *testing.T) {
	silent := loopback.Start(t, func(ctx context.Context, c net.Conn) { <-ctx.Done() })
	refused := func() string { // a port nothing listens on any more
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}()
	for name, addr := range map[string]string{"silent": silent, "refused": refused} {
		t.Run(name, func(t *testing.T) {
			c, err := New(&spec.GRPCAccessLog{LogName: "x", Cluster: "als"}, false, testConfig(addr))
			if err != nil {
				t.Fatal(err)
			}
			n := queueLen + 1000
			begin := time.Now()
			for range n {
				c.Write(entry(200))
			}
			if d := time.Since(begin); d > 2*time.Second {
				t.Errorf("%d writes took %v", n, d)
			}
			if c.Dropped.Load() < 999 || c.Written.Load() != 0 { // the client may hold one entry
				t.Errorf("dropped %d, written %d; want at least 999 and 0", c.Dropped.Load(), c.Written.Load())
			}
			closed := make(chan struct{})
			go func() {
				defer close(closed)
				c.Close()
			}()
			select {
			case <-closed:
			case <-time.After(10 * time.Second):
				t.Fatal("Close hung")
			}
		})
	}
}
