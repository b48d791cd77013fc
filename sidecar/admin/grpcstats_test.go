package admin

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// grpcStatsBackend is a real grpc-go server on loopback: /pkg.S/Echo
// answers its message, /pkg.S/Fail fails NOT_FOUND before any message,
// and any other method echoes every message of a stream.
func grpcStatsBackend(t *testing.T) string {
	t.Helper()
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, s grpc.ServerStream) error {
		if m, _ := grpc.MethodFromServerStream(s); m == "/pkg.S/Fail" {
			return status.Error(codes.NotFound, "no")
		}
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

// TestGRPCStatsThroughSidecar: Envoy's grpc_stats filter on a listener in
// front of an HTTP/2 cluster counts a real grpc-go client's calls (h2c to
// the sidecar) exactly: outcomes by status and messages both ways, for a
// unary call, a failed one, a bidirectional stream, a call the sidecar
// answers itself (its cluster is down: UNAVAILABLE, as Envoy counts its
// local replies) and a call from an HTTP/1.1 client translated to HTTP/2
// upstream; and /stats and
// /stats/prometheus show them under Envoy's names and tags.
func TestGRPCStatsThroughSidecar(t *testing.T) {
	be := grpcStatsBackend(t)
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	routes := &config.RouteConfig{Name: "r", VirtualHosts: []config.VirtualHost{{Name: "all", Domains: []string{"*"},
		Routes: []config.Route{
			{Match: config.RouteMatch{Kind: config.PathPrefix, Path: "/pkg.Dead/"}, Action: &config.RouteAction{Cluster: "dead"}},
			{Match: config.RouteMatch{Kind: config.PathPrefix, Path: "/"}, Action: &config.RouteAction{Cluster: "be"}}}}}}
	hcm := &config.HTTPManager{StatPrefix: "in", Routes: routes, Filters: []spec.HTTPFilter{
		{Name: "envoy.filters.http.grpc_stats", TypeURL: spec.GRPCStatsType,
			Config: &spec.GRPCStats{Allowlist: map[string][]string{"pkg.S": {"Echo", "Fail", "Chat"}}, UpstreamStats: true, ReplaceDots: true}}}}
	cl := config.Cluster{Name: "be", Type: config.DiscoveryStatic, LBPolicy: "round_robin", ConnectTimeout: time.Second,
		HTTP:   spec.UpstreamHTTP{Protocol: spec.UpstreamHTTP2},
		Static: &config.LoadAssignment{ClusterName: "be", Endpoints: []config.Endpoint{{Address: be, Weight: 1}}}}
	dead := cl
	dead.Name, dead.Static = "dead", &config.LoadAssignment{ClusterName: "dead", Endpoints: []config.Endpoint{{Address: closingAddr(t), Weight: 1}}}
	set := &config.Set{Listeners: []config.Listener{{Name: "web", Address: "127.0.0.1:0", FilterChains: []config.FilterChain{{HTTP: hcm}}}},
		Clusters: []config.Cluster{cl, dead}}
	if err := sc.Apply(set); err != nil {
		t.Fatal(err)
	}
	addr := sc.Addresses()["web"]
	grpcCalls(t, addr)
	h1GRPCCall(t, addr)

	h := Handler(sc)
	p := "cluster.be.grpc.pkg_S."
	tags := func(m string) string {
		return `{envoy_grpc_bridge_method="` + m + `",envoy_grpc_bridge_service="pkg_S",envoy_cluster_name="be"}`
	}
	for path, want := range map[string][]string{
		"/stats": {p + "Echo.success: 2", p + "Echo.total: 2", p + "Echo.failure: 0", p + "Echo.0: 2",
			p + "Echo.request_message_count: 2", p + "Echo.response_message_count: 2",
			p + "Fail.failure: 1", p + "Fail.total: 1", p + "Fail.5: 1", p + "Fail.request_message_count: 1", p + "Fail.response_message_count: 0",
			p + "Chat.success: 1", p + "Chat.request_message_count: 3", p + "Chat.response_message_count: 3",
			"cluster.be.grpc.total: 1", "cluster.be.grpc.request_message_count: 1",
			"cluster.dead.grpc.failure: 1", "cluster.dead.grpc.14: 1", "cluster.dead.grpc.total: 1"},
		"/stats/prometheus": {"envoy_cluster_grpc_success" + tags("Echo") + " 2", "envoy_cluster_grpc_failure" + tags("Fail") + " 1",
			"envoy_cluster_grpc_5" + tags("Fail") + " 1", "envoy_cluster_grpc_request_message_count" + tags("Chat") + " 3",
			"envoy_cluster_grpc_response_message_count" + tags("Chat") + " 3", "envoy_cluster_grpc_upstream_rq_time_count" + tags("Echo") + " 2",
			`envoy_cluster_grpc_total{envoy_cluster_name="be"} 1`},
	} {
		_, body := get(t, h, path)
		for _, w := range want {
			if !strings.Contains(body, w+"\n") {
				t.Errorf("%s lacks %q", path, w)
			}
		}
		if t.Failed() {
			t.Logf("%s:\n%s", path, grepLines(body, "grpc"))
		}
	}
}

// grpcCalls makes, with grpc-go over h2c: a unary Echo, a Fail, a
// bidirectional Chat of 3 messages each way, and a unary call of a
// method outside the allowlist.
func grpcCalls(t *testing.T, addr string) {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := new(wrapperspb.BytesValue)
	if err := cc.Invoke(ctx, "/pkg.S/Echo", wrapperspb.Bytes([]byte("hi")), out); err != nil || string(out.Value) != "hi" {
		t.Fatalf("Echo: %v, %q", err, out.Value)
	}
	if err := cc.Invoke(ctx, "/pkg.S/Fail", wrapperspb.Bytes(nil), out); status.Code(err) != codes.NotFound {
		t.Fatalf("Fail: %v, want NotFound", err)
	}
	if err := cc.Invoke(ctx, "/pkg.S/Unlisted", wrapperspb.Bytes([]byte("x")), out); err != nil {
		t.Fatalf("Unlisted: %v", err)
	}
	// The sidecar answers this one itself: its cluster's endpoint is down.
	if err := cc.Invoke(ctx, "/pkg.Dead/M", wrapperspb.Bytes(nil), out); status.Code(err) != codes.Unavailable {
		t.Fatalf("a call to a dead cluster: %v, want Unavailable", err)
	}
	st, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, "/pkg.S/Chat")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := st.SendMsg(wrapperspb.Bytes([]byte{byte(i)})); err != nil {
			t.Fatal(err)
		}
		if err := st.RecvMsg(out); err != nil {
			t.Fatal(err)
		}
	}
	st.CloseSend()
	if err := st.RecvMsg(out); err != io.EOF {
		t.Fatalf("Chat's end: %v, want EOF", err)
	}
}

// h1GRPCCall makes a unary Echo call as an HTTP/1.1 client writes it,
// which the sidecar sends on over HTTP/2.
func h1GRPCCall(t *testing.T, addr string) {
	t.Helper()
	m, _ := proto.Marshal(wrapperspb.Bytes([]byte("h1")))
	frame := append(binary.BigEndian.AppendUint32([]byte{0}, uint32(len(m))), m...)
	req, _ := http.NewRequest("POST", "http://"+addr+"/pkg.S/Echo", bytes.NewReader(frame))
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	c := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Trailer.Get("Grpc-Status") != "0" || !bytes.Equal(got, frame) {
		t.Fatalf("HTTP/1.1 call: %d grpc-status %q body %q", resp.StatusCode, resp.Trailer.Get("Grpc-Status"), got)
	}
}

// closingAddr is a loopback address whose server closes every connection
// at once, so an upstream there always fails.
func closingAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
