package forward

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

func peerTLS(t testing.TB) *stream.TLS {
	t.Helper()
	pair := transporttest.NewCA(t, "mesh").Leaf(t, "spiffe://mesh.local/ns/default/dc/dc1/svc/web", "web.mesh.local")
	cert, err := x509.ParseCertificate(pair.TLS(t).Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return stream.NewTLS(&tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}},
		[]string{"spiffe://mesh.local/ns/default/dc/dc1/svc/api"})
}

// TestRemoveXFCC removes every x-forwarded-client-cert header, whatever
// its case, and keeps the others in order.
func TestRemoveXFCC(t *testing.T) {
	hs := []route.Header{{Name: []byte("A"), Value: []byte("1")}, {Name: []byte("X-Forwarded-Client-Cert"), Value: []byte("x")},
		{Name: []byte("b"), Value: []byte("2")}, {Name: []byte("x-forwarded-client-cert"), Value: []byte("y")}}
	got := removeXFCC(hs)
	if len(got) != 2 || string(got[0].Name) != "A" || string(got[1].Name) != "b" {
		t.Errorf("removeXFCC left %q", got)
	}
}

// BenchmarkXFCCElement: building Consul's XFCC element (APPEND_FORWARD
// with subject, uri and dns) into a reused buffer does not allocate.
func BenchmarkXFCCElement(b *testing.B) {
	t := peerTLS(b)
	details := spec.XFCCSubject | spec.XFCCURI | spec.XFCCDNS
	buf := appendElement(nil, t, details)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendElement(buf[:0], t, details)
	}
}
