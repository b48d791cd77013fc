package transport

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/internal/loopback"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

// TestTestSSL runs testssl.sh against a terminating listener with the
// defaults a DownstreamTlsContext with only a certificate gets, and fails
// on any HIGH or CRITICAL finding, and unless TLS 1.0 and 1.1 are
// refused. testssl.sh must be installed (apt-get install testssl.sh;
// .ci/run installs it); it takes a minute or two, so -short skips it.
func TestTestSSL(t *testing.T) {
	if testing.Short() {
		t.Skip("testssl.sh takes minutes")
	}
	bin, err := exec.LookPath("testssl")
	if err != nil {
		if bin, err = exec.LookPath("testssl.sh"); err != nil {
			t.Fatal("testssl.sh is not installed: apt-get install testssl.sh (Debian) or see https://testssl.sh")
		}
	}
	ca := transporttest.NewCA(t, "mesh")
	leaf := ca.Leaf(t, "spiffe://mesh.local/ns/default/dc/dc1/svc/api", "localhost")
	addr := serveTLS(t, &spec.DownstreamTLS{TLSCommon: spec.TLSCommon{
		Certificates: []spec.Certificate{{Chain: leaf.Cert, Key: leaf.Key}}, ALPN: []string{"http/1.1"},
		MinVersion: spec.TLS12, MaxVersion: spec.TLS13}})
	out := filepath.Join(t.TempDir(), "testssl.json")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--quiet", "--color", "0", "--warnings", "batch", "--ip", "one",
		"--protocols", "--std", "--vulnerable", "--jsonfile", out, addr)
	if b, err := cmd.CombinedOutput(); err != nil && ctx.Err() != nil {
		t.Fatalf("testssl.sh: %v\n%s", err, b)
	}
	var findings []struct{ ID, Severity, Finding string }
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &findings); err != nil {
		t.Fatalf("testssl.sh JSON: %v", err)
	}
	offered, bySeverity := map[string]string{}, map[string][]string{}
	for _, f := range findings {
		offered[f.ID] = f.Finding
		bySeverity[f.Severity] = append(bySeverity[f.Severity], f.ID)
		if f.Severity == "HIGH" || f.Severity == "CRITICAL" {
			t.Errorf("%s %s: %s", f.Severity, f.ID, f.Finding)
		}
	}
	t.Logf("%d findings; MEDIUM %v; LOW %v", len(findings), bySeverity["MEDIUM"], bySeverity["LOW"])
	for _, id := range []string{"TLS1", "TLS1_1", "SSLv3", "SSLv2"} {
		if !strings.HasPrefix(offered[id], "not offered") {
			t.Errorf("%s: %q, want not offered", id, offered[id])
		}
	}
	for _, id := range []string{"TLS1_2", "TLS1_3"} {
		if !strings.HasPrefix(offered[id], "offered") {
			t.Errorf("%s: %q, want offered", id, offered[id])
		}
	}
}

// serveTLS terminates TLS with d on loopback until the test ends,
// answering every request with 200.
func serveTLS(t *testing.T, d *spec.DownstreamTLS) string {
	t.Helper()
	tr, err := NewServer(d)
	if err != nil {
		t.Fatal(err)
	}
	return loopback.Start(t, func(ctx context.Context, c net.Conn) {
		tc, err := tr(ctx, c)
		if err != nil {
			return
		}
		answer(tc)
	})
}

// answer answers each request head on c with 200 until c fails.
func answer(c net.Conn) {
	rd := bufio.NewReader(c)
	for {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := rd.ReadString('\n')
		if err != nil {
			return
		}
		if line == "\r\n" {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	}
}
