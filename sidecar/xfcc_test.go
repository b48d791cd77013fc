package sidecar

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

// xfccEcho answers each request with the x-forwarded-client-cert values
// it got, joined by "|", or "none".
func xfccEcho(t *testing.T) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Values("X-Forwarded-Client-Cert")
		if len(v) == 0 {
			v = []string{"none"}
		}
		io.WriteString(w, strings.Join(v, "|"))
	}))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// TestXFCC: forward_client_cert_details and
// set_current_client_cert_details as Envoy applies them: on an mTLS
// connection the app sees this hop's element (By: the listener's SPIFFE
// ID, Hash: the client certificate's SHA-256, then the details), added
// to or replacing what the client sent; on plaintext the header is
// removed unless ALWAYS_FORWARD_ONLY.
func TestXFCC(t *testing.T) {
	ca := transporttest.NewCA(t, "mesh")
	client := ca.Leaf(t, webSPIFFE, "web.mesh.local")
	block, _ := pem.Decode(client.Cert)
	sum := sha256.Sum256(block.Bytes)
	hash := hex.EncodeToString(sum[:])
	cert, _ := x509.ParseCertificate(block.Bytes)
	if cert.Subject.String() != "CN=leaf" {
		t.Fatalf("subject %q", cert.Subject.String())
	}
	self := "By=" + apiSPIFFE + ";Hash=" + hash
	escaped := strings.NewReplacer("\n", "%0A", " ", "%20", "+", "%2B", "/", "%2F", "=", "%3D").Replace(string(client.Cert))
	const sent = "By=spiffe://x/caller;URI=spiffe://x/origin"
	all := spec.XFCCSubject | spec.XFCCURI | spec.XFCCDNS
	for _, tc := range []struct {
		name        string
		x           spec.XFCC
		mtls, plain string
	}{
		{"SANITIZE (default)", spec.XFCC{}, "none", "none"},
		{"FORWARD_ONLY", spec.XFCC{Mode: spec.XFCCForwardOnly}, sent, "none"},
		{"ALWAYS_FORWARD_ONLY", spec.XFCC{Mode: spec.XFCCAlwaysForwardOnly}, sent, sent},
		{"SANITIZE_SET", spec.XFCC{Mode: spec.XFCCSanitizeSet}, self, "none"},
		{"APPEND_FORWARD with subject, uri, dns (Consul's)", spec.XFCC{Mode: spec.XFCCAppendForward, Details: all},
			sent + "," + self + `;Subject="CN=leaf";URI=` + webSPIFFE + ";DNS=web.mesh.local", "none"},
		{"SANITIZE_SET with cert and chain", spec.XFCC{Mode: spec.XFCCSanitizeSet, Details: spec.XFCCCert | spec.XFCCChain},
			self + `;Cert="` + escaped + `";Chain="` + escaped + `"`, "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSidecar(t)
			secure, open := freeAddr(t), freeAddr(t)
			in := httpListener("in", secure, "app")
			in.FilterChains[0].TLS = mtls(t, ca)
			in.FilterChains[0].HTTP.XFCC = tc.x
			pl := httpListener("plain", open, "app")
			pl.FilterChains[0].HTTP.XFCC = tc.x
			if err := s.Apply(&config.Set{Clusters: []config.Cluster{staticCluster("app", xfccEcho(t))},
				Listeners: []config.Listener{in, pl}}); err != nil {
				t.Fatal(err)
			}
			c := httpsClient(ca, "api.mesh.local", client.TLS(t))
			defer c.CloseIdleConnections()
			p := &http.Client{Transport: &http.Transport{}}
			defer p.CloseIdleConnections()
			for _, v := range []struct {
				url, want string
				c         *http.Client
			}{
				{"https://" + secure + "/", tc.mtls, c}, {"http://" + open + "/", tc.plain, p},
			} {
				req, _ := http.NewRequest("GET", v.url, nil)
				req.Header.Set("X-Forwarded-Client-Cert", sent)
				resp, err := v.c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != v.want {
					t.Errorf("%s: app got\n %s\nwant\n %s", v.url, b, v.want)
				}
			}
		})
	}
}

// TestRBACAndXFCCOverHTTP2: the HTTP/2 codec hands the forwarder the
// connection's TLS peer as the HTTP/1 one does: RBAC principals match it
// and the app gets this hop's XFCC element.
func TestRBACAndXFCCOverHTTP2(t *testing.T) {
	ca := transporttest.NewCA(t, "mesh")
	s := newSidecar(t)
	addr := freeAddr(t)
	in := httpListener("in", addr, "app")
	in.FilterChains[0].TLS = mtls(t, ca)
	in.FilterChains[0].TLS.ALPN = []string{"h2", "http/1.1"}
	in.FilterChains[0].HTTP.XFCC = spec.XFCC{Mode: spec.XFCCSanitizeSet, Details: spec.XFCCURI}
	in.FilterChains[0].HTTP.Filters = []spec.HTTPFilter{httpRBAC(&spec.RBAC{Rules: l7Rules()})}
	if err := s.Apply(&config.Set{Clusters: []config.Cluster{staticCluster("app", xfccEcho(t))},
		Listeners: []config.Listener{in}}); err != nil {
		t.Fatal(err)
	}
	client := ca.Leaf(t, webSPIFFE)
	c := httpsClient(ca, "api.mesh.local", client.TLS(t))
	c.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	defer c.CloseIdleConnections()
	block, _ := pem.Decode(client.Cert)
	sum := sha256.Sum256(block.Bytes)
	want := "By=" + apiSPIFFE + ";Hash=" + hex.EncodeToString(sum[:]) + ";URI=" + webSPIFFE
	for _, tc := range []struct{ method, want string }{{"GET", "200 " + want}, {"POST", "403 RBAC: access denied"}} {
		req, _ := http.NewRequest(tc.method, "https://"+addr+"/api", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Status[:3] + " " + string(b); got != tc.want || resp.Proto != "HTTP/2.0" {
			t.Errorf("%s over %s: %q, want %q over HTTP/2.0", tc.method, resp.Proto, got, tc.want)
		}
	}
}
