package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

// greeter accepts connections on loopback, greets each with "echo\n" and
// echoes what it reads.
func greeter(t *testing.T) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, "echo\n")
				io.Copy(c, c)
			}()
		}
	}()
	return lis.Addr().String()
}

// TestSDSServesTLS runs a real sidecar from a go-control-plane server: a
// listener terminating TLS with an SDS certificate accepts nothing until
// the secret arrives, then serves TLS with it; a new version of the secret
// is seen by a new client while a connection made before keeps working.
func TestSDSServesTLS(t *testing.T) {
	ca := transporttest.NewCA(t, "mesh")
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	v1, v2 := ca.Leaf(t, "spiffe://mesh.local/svc/web", "echo"), ca.Leaf(t, "spiffe://mesh.local/svc/web", "echo")
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := timeout(t)
			app := greeter(t)
			host, p, _ := net.SplitHostPort(app)
			port, _ := strconv.Atoi(p)
			echo := &clusterv3.Cluster{Name: "echo", ConnectTimeout: durationpb.New(time.Second),
				ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
				LoadAssignment:       loadAssignment("echo", net.JoinHostPort(host, strconv.Itoa(port)))}
			_, lp, _ := net.SplitHostPort(deadAddr(t))
			lport, _ := strconv.Atoi(lp)
			l := sdsListener("tls", uint32(lport), "echo", "web", "")
			addr := net.JoinHostPort("127.0.0.1", lp)
			snap := func(secrets ...*tlsv3.Secret) map[string][]types.Resource {
				res := resources([]*listenerv3.Listener{l}, nil, []*clusterv3.Cluster{echo}, []*endpointv3.ClusterLoadAssignment{})
				for _, s := range secrets {
					res[resourcev3.SecretType] = append(res[resourcev3.SecretType], s)
				}
				return res
			}
			srv := newXDSServer(t)
			srv.set(t, "v1", snap())
			sc := sidecar.New(slog.New(slog.DiscardHandler))
			t.Cleanup(func() { sc.Close(time.Second) })
			runClient(t, Options{Targets: []string{srv.addr}, Delta: m.delta}, sc)
			srv.waitACK(ctx, t, resourcev3.ListenerType, "v1")
			waitSubscribed(ctx, t, srv, resourcev3.SecretType, "web")
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Fatal("the listener accepts connections before its secret arrived")
			}

			srv.set(t, "v2", snap(certSecret("web", v1)))
			old, oldRd := dialTLS(ctx, t, addr, roots)
			if !bytes.Equal(old.ConnectionState().PeerCertificates[0].Raw, v1.TLS(t).Certificate[0]) {
				t.Fatal("first client did not see the secret's certificate")
			}

			srv.set(t, "v3", snap(certSecret("web", v2)))
			srv.waitACK(ctx, t, resourcev3.SecretType, "v3")
			var fresh *tls.Conn
			var freshRd *bufio.Reader
			for ctx.Err() == nil {
				fresh, freshRd = dialTLS(ctx, t, addr, roots)
				if bytes.Equal(fresh.ConnectionState().PeerCertificates[0].Raw, v2.TLS(t).Certificate[0]) {
					break
				}
				fresh.Close()
			}
			if ctx.Err() != nil {
				t.Fatal("no client saw the rotated certificate")
			}
			for name, c := range map[string]struct {
				c  *tls.Conn
				rd *bufio.Reader
			}{"new": {fresh, freshRd}, "old": {old, oldRd}} {
				io.WriteString(c.c, "ping\n")
				if got, _ := c.rd.ReadString('\n'); got != "ping\n" {
					t.Errorf("%s connection relayed %q", name, got)
				}
			}
		})
	}
}

// dialTLS dials addr until a TLS handshake trusting roots succeeds and
// the greeting arrives, or ctx ends.
func dialTLS(ctx context.Context, t *testing.T, addr string, roots *x509.CertPool) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	for {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: "echo"})
		if err == nil {
			t.Cleanup(func() { c.Close() })
			c.SetDeadline(time.Now().Add(5 * time.Second))
			rd := bufio.NewReader(c)
			if greet, _ := rd.ReadString('\n'); greet == "echo\n" {
				return c, rd
			}
			c.Close()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no TLS connection to %s: %v", addr, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
