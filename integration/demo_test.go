package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDemoIsMTLS runs `meshlb demo` (fixed ports 18201-18402 and admin
// 19000-19002) and shows its sidecars talk mTLS: a request through the
// frontend's upstream reaches web, whose public listener presents web's
// SPIFFE ID, refuses plaintext and a client without a certificate.
func TestDemoIsMTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	demo := start(t, "demo", "demo", "--xds-addr", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	took := eventually(t, "the demo mesh to come up", func() bool {
		return strings.Contains(demo.log.String(), "mesh is up")
	})
	t.Logf("demo up in %v", took.Round(time.Millisecond))
	code, body, err := httpGet(http.DefaultClient, "http://127.0.0.1:18401/hello")
	if err != nil || code != 200 || !strings.Contains(body, "web") {
		t.Fatalf("GET through frontend's web upstream = %d %q, %v", code, body, err)
	}
	for name, addr := range map[string]string{"web": "127.0.0.1:18301", "echo": "127.0.0.1:18311"} {
		uris, answered := peerSPIFFE(t, addr, nil)
		if want := "spiffe://meshlb.local/ns/default/dc/dc1/svc/" + name; len(uris) != 1 || uris[0] != want {
			t.Errorf("%s's public listener presents %v, want [%s]", name, uris, want)
		}
		if answered {
			t.Errorf("%s's public listener served a client without a certificate", name)
		}
		if plaintextAnswered(addr) {
			t.Errorf("%s's public listener answered plaintext", name)
		}
	}
}
