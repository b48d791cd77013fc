//go:build linux

package l7

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/balancer"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

// tlsParkedServer is parkedServer behind TLS: it terminates TLS on the
// next connection and serves the *tls.Conn. It returns a client config
// that trusts the server.
func tlsParkedServer(t *testing.T, idle time.Duration) (*Parker, string, *tls.Config) {
	t.Helper()
	be := backend(t, "a")
	p, err := NewParker()
	if err != nil {
		t.Fatal(err)
	}
	p.After = 30 * time.Millisecond
	reg := cluster.NewRegistry()
	cl := &cluster.Cluster{Name: "web", ConnectTimeout: time.Second, Stats: &cluster.Stats{},
		Endpoints: []*cluster.Endpoint{{State: reg.Get(hostOf(be), nil), Weight: 1}}}
	cl.Picker = balancer.Build(&spec.Cluster{}, cl.Endpoints)
	table, err := route.Compile(prefixRoutes(toCluster("/", "web")), func(string) *cluster.Cluster { return cl })
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(&Config{Config: forward.Config{Routes: table, StreamIdle: idle, Stats: &Stats{}}}, slog.New(slog.DiscardHandler), p)
	ca := transporttest.NewCA(t, "test")
	cert := ca.Leaf(t, "", "h").TLS(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
		if tc.HandshakeContext(ctx) != nil {
			c.Close()
			return
		}
		srv.ServeConn(ctx, tc)
	}()
	t.Cleanup(func() { cancel(); ln.Close(); p.Close(); reg.Close() })
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	return p, ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "h"}
}

// TestParkedTLSConnectionResumes: an idle TLS keep-alive connection is
// parked by its socket, with no goroutine, and serves the next requests
// when the client sends them, over both TLS versions.
func TestParkedTLSConnectionResumes(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			p, addr, cfg := tlsParkedServer(t, time.Minute)
			cfg.MaxVersion = v
			c, err := tls.Dial("tcp", addr, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			rd := bufio.NewReader(c)
			if got := request(t, c, rd); got[:1] != "a" {
				t.Fatalf("first response %q", got)
			}
			for i := range 3 {
				waitFor(t, "the idle TLS connection to be parked", func() bool { return p.count() == 1 })
				if got := request(t, c, rd); got[:1] != "a" {
					t.Fatalf("response %d after parking: %q", i, got)
				}
			}
		})
	}
}

// TestParkedTLSConnectionHoldsNoBuffer: a parked TLS connection holds
// neither a read nor a write buffer, nor its request state: its wait for
// a request ran into the park deadline with the read buffer taken (a
// *tls.Conn is read with Read, not through the poller), which must give
// it back. Holding it cost 16 KiB per idle mTLS connection (issue 9).
func TestParkedTLSConnectionHoldsNoBuffer(t *testing.T) {
	p, addr, cfg := tlsParkedServer(t, time.Minute)
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	if got := request(t, c, rd); got[:1] != "a" {
		t.Fatalf("first response %q", got)
	}
	waitFor(t, "the idle TLS connection to be parked", func() bool { return p.count() == 1 })
	p.mu.Lock()
	for _, s := range p.parked {
		if s.rd.buf != nil || s.out.pb != nil || s.reqState != nil {
			t.Errorf("a parked TLS session holds read buffer %v, write buffer %v, request state %v",
				s.rd.buf != nil, s.out.pb != nil, s.reqState != nil)
		}
	}
	p.mu.Unlock()
	if got := request(t, c, rd); got[:1] != "a" {
		t.Fatalf("response after parking: %q", got)
	}
}

// TestParkedTLSConnectionIdleTimeout: the parker closes a parked TLS
// connection at its idle timeout, with a close_notify the client reads
// as EOF.
func TestParkedTLSConnectionIdleTimeout(t *testing.T) {
	p, addr, cfg := tlsParkedServer(t, 200*time.Millisecond)
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	request(t, c, rd)
	waitFor(t, "the idle TLS connection to be parked", func() bool { return p.count() == 1 })
	waitFor(t, "the parked connection to be closed after the idle timeout", func() bool { return p.count() == 0 })
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := rd.ReadByte(); err != io.EOF {
		t.Errorf("read after idle timeout: %v, want EOF", err)
	}
}
