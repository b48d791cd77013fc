package sidecar

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/accesslog/als/alstest"
	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestAccessLogFile runs an HTTP listener (HTTP/1.1 and h2c) and a TCP
// listener whose access logs go to one file, and reads the lines back:
// the sidecar writes one per request or connection, with Envoy's
// operators filled from each protocol's stream info. (HTTP/1's
// BYTES_SENT counts the response head too, HTTP/2's the body only.)
func TestAccessLogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	httpLog := spec.AccessLog{Path: path, Format: "http %PROTOCOL% %REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% " +
		"%BYTES_SENT% %UPSTREAM_CLUSTER% %UPSTREAM_HOST% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %RESPONSE_CODE_DETAILS% %CONNECTION_ID%\n"}
	tcpLog := spec.AccessLog{Path: path, Format: "tcp %BYTES_RECEIVED% %BYTES_SENT% %UPSTREAM_CLUSTER% %UPSTREAM_HOST% " +
		"%UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT% %RESPONSE_FLAGS%\n"}
	be, echo := named(t, "be"), echoServer(t, "echo")
	s := newSidecar(t)
	httpAddr, tcpAddr := freeAddr(t), freeAddr(t)
	hl := httpListener("web", httpAddr, "be")
	hl.FilterChains[0].HTTP.AccessLogs = []spec.AccessLog{httpLog}
	tl := tcpListener("tcp", tcpAddr, "echo")
	tl.FilterChains[0].TCP.AccessLogs = []spec.AccessLog{tcpLog}
	set := &config.Set{Listeners: []config.Listener{hl, tl}, Clusters: []config.Cluster{staticCluster("be", be), staticCluster("echo", echo)}}
	if err := s.Apply(set); err != nil {
		t.Fatal(err)
	}
	h1, h2 := newClient(), h2cClient()
	defer h1.CloseIdleConnections()
	defer h2.CloseIdleConnections()
	if got := body(t, h1, "http://"+httpAddr+"/one?x=1"); got != "be" {
		t.Fatalf("HTTP/1.1 body %q", got)
	}
	if got := body(t, h2, "http://"+httpAddr+"/two"); got != "be" {
		t.Fatalf("h2c body %q", got)
	}
	tcpExchange(t, tcpAddr, "ping\n")
	lines := waitLines(t, path, 3)
	want := []*regexp.Regexp{
		regexp.MustCompile(`^http HTTP/1\.1 GET /one\?x=1 200 - \d+ be ` + regexp.QuoteMeta(be) + ` 127\.0\.0\.1 via_upstream \d+$`),
		regexp.MustCompile(`^http HTTP/2 GET /two 200 - 2 be ` + regexp.QuoteMeta(be) + ` 127\.0\.0\.1 via_upstream \d+$`),
		regexp.MustCompile(`^tcp 5 10 echo ` + regexp.QuoteMeta(echo) + ` 127\.0\.0\.1 -$`),
	}
	// Each listener's line is written after its response reached the
	// client, so lines from different connections may come in any order.
	for _, re := range want {
		if !slices.ContainsFunc(lines, re.MatchString) {
			t.Errorf("no line matches %s in:\n%s", re, strings.Join(lines, "\n"))
		}
	}
}

// tcpExchange sends msg through the TCP proxy to the echo server and
// reads its greeting and the echo back, then closes.
func tcpExchange(t *testing.T, addr, msg string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	c.(*net.TCPConn).CloseWrite()
	r.ReadString('\n') // the end
}

// waitLines polls path until it holds n lines, and returns them.
func waitLines(t *testing.T, path string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		b, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(b) > 0 && len(lines) >= n {
			return lines
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s holds %q, want %d lines", path, b, n)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestAccessLogGRPC sends an HTTP listener's entries (http_grpc, HTTP/1.1
// and h2c) and a TCP listener's (tcp_grpc) to a real access log service
// behind a cluster.
func TestAccessLogGRPC(t *testing.T) {
	srv := alstest.StartServer(t)
	be, echo := named(t, "be"), echoServer(t, "echo")
	s := newSidecar(t)
	s.SetNode("web-1", "web")
	httpAddr, tcpAddr := freeAddr(t), freeAddr(t)
	hl := httpListener("web", httpAddr, "be")
	hl.FilterChains[0].HTTP.AccessLogs = []spec.AccessLog{{GRPC: &spec.GRPCAccessLog{LogName: "http", Cluster: "als",
		FlushInterval: 10 * time.Millisecond, RequestHeaders: []string{"x-tenant"}}}}
	tl := tcpListener("tcp", tcpAddr, "echo")
	tl.FilterChains[0].TCP.AccessLogs = []spec.AccessLog{{TCP: true, GRPC: &spec.GRPCAccessLog{LogName: "tcp", Cluster: "als",
		FlushInterval: 10 * time.Millisecond}}}
	set := &config.Set{Listeners: []config.Listener{hl, tl},
		Clusters: []config.Cluster{staticCluster("be", be), staticCluster("echo", echo), staticCluster("als", srv.Addr)}}
	if err := s.Apply(set); err != nil {
		t.Fatal(err)
	}
	h1, h2 := newClient(), h2cClient()
	defer h1.CloseIdleConnections()
	defer h2.CloseIdleConnections()
	if code, b, _ := do(t, h1, "http://"+httpAddr+"/one", "X-Tenant", "acme"); code != 200 || b != "be" {
		t.Fatalf("HTTP/1.1: %d %q", code, b)
	}
	if got := body(t, h2, "http://"+httpAddr+"/two"); got != "be" {
		t.Fatalf("h2c body %q", got)
	}
	tcpExchange(t, tcpAddr, "ping\n")
	var got []string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(got) < 3 {
		got = got[:0]
		for _, m := range srv.Messages() {
			if id := m.GetIdentifier(); id != nil && id.GetNode().GetId() != "web-1" {
				t.Errorf("identifier %v", id)
			}
			for _, e := range m.GetHttpLogs().GetLogEntry() {
				got = append(got, fmt.Sprintf("http %s %s %d %s tenant=%s", e.GetProtocolVersion(), e.GetRequest().GetPath(),
					e.GetResponse().GetResponseCode().GetValue(), e.GetCommonProperties().GetUpstreamCluster(),
					e.GetRequest().GetRequestHeaders()["x-tenant"]))
			}
			for _, e := range m.GetTcpLogs().GetLogEntry() {
				got = append(got, fmt.Sprintf("tcp %d %d %s", e.GetConnectionProperties().GetReceivedBytes(),
					e.GetConnectionProperties().GetSentBytes(), e.GetCommonProperties().GetUpstreamCluster()))
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("entries so far: %q", got)
		case <-time.After(10 * time.Millisecond):
		}
	}
	slices.Sort(got)
	want := []string{"http HTTP11 /one 200 be tenant=acme", "http HTTP2 /two 200 be tenant=", "tcp 5 10 echo"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}
