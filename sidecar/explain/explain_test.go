package explain

import (
	"bytes"
	"flag"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newSidecar runs a sidecar on the bootstrap testdata/<name>.yaml, read
// through the normal configuration path (sidecar/config).
func newSidecar(t testing.TB, name string) *sidecar.Sidecar {
	t.Helper()
	b, err := config.LoadBootstrap(filepath.Join("testdata", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { sc.Close(time.Second) })
	if err := sc.Apply(&b.Static); err != nil {
		t.Fatal(err)
	}
	return sc
}

// explainQuery explains the GET /explain parameters params on sc.
func explainQuery(t testing.TB, sc *sidecar.Sidecar, params string) *Report {
	t.Helper()
	v, err := url.ParseQuery(params)
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParseQuery(v)
	if err != nil {
		t.Fatalf("ParseQuery(%s): %v", params, err)
	}
	r, err := Explain(sc, q)
	if err != nil {
		t.Fatalf("Explain(%s): %v", params, err)
	}
	return r
}

// eject has outlier detection eject addr in cluster name of sc, as the
// detector does: the verdict, then a rebuilt picker.
func eject(t testing.TB, sc *sidecar.Sidecar, name, addr string) {
	t.Helper()
	c := sc.Snapshot().Clusters[name]
	for _, e := range c.Endpoints {
		if e.Addr == addr {
			e.Outlier.SetEjected(true)
			c.Runtime.Rebuild()
			return
		}
	}
	t.Fatalf("cluster %q has no endpoint %s", name, addr)
}

const (
	http = "listener=http&to=127.0.0.1:8080&request="
	tcp  = "listener=edge&to=127.0.0.1:9000&request="
)

// goldenCases cover every routing feature explain reports; each golden
// file is testdata/golden/<name>.txt.
var goldenCases = []struct {
	name, bootstrap, params string
	setup                   func(testing.TB, *sidecar.Sidecar)
}{
	// Virtual hosts by domain.
	{name: "domain-exact", bootstrap: "http", params: http + "GET+http://api/users/7"},
	{name: "domain-exact-beats-suffix", bootstrap: "http", params: http + "GET+http://old.example.com/a?b=1"},
	{name: "domain-suffix", bootstrap: "http", params: http + "GET+http://www.example.com/"},
	{name: "domain-prefix", bootstrap: "http", params: http + "GET+http://staging.internal/v1/x"},
	{name: "domain-any", bootstrap: "http", params: http + "GET+http://elsewhere/"},
	{name: "domain-port-dropped", bootstrap: "http", params: http + "GET+http://api:8080/users/7"},
	// Route matchers.
	{name: "header-match", bootstrap: "http", params: http + "GET+http://api/users/7&header=x-canary:+1"},
	{name: "header-mismatch", bootstrap: "http", params: http + "GET+http://api/users/7&header=x-canary:+2"},
	{name: "method-match", bootstrap: "http", params: http + "POST+http://api/admin&from=10.0.0.5:4711"},
	{name: "query-match", bootstrap: "http", params: http + "GET+http://api/search?q=shoes"},
	{name: "query-missing", bootstrap: "http", params: http + "GET+http://api/search?page=2"},
	{name: "path-regex", bootstrap: "http", params: http + "GET+http://api/items/42"},
	{name: "prefix-no-route", bootstrap: "http", params: http + "GET+http://staging.internal/v2"},
	// Route actions.
	{name: "weighted-split", bootstrap: "http", params: http + "GET+http://api/split"},
	{name: "redirect", bootstrap: "http", params: http + "GET+http://old.example.com/a?b=1"},
	{name: "direct-response", bootstrap: "http", params: http + "GET+http://www.example.com/"},
	// HTTP RBAC.
	{name: "rbac-allow-policy", bootstrap: "http", params: http + "DELETE+http://api/users/7&from=10.0.0.5:4711"},
	{name: "rbac-deny", bootstrap: "http", params: http + "DELETE+http://api/users/7&from=192.168.1.9:4711"},
	// Balancing.
	{name: "ring-hash-key", bootstrap: "http", params: http + "GET+http://api/hash&header=x-user:+alice&from=10.0.0.5:4711"},
	{name: "ring-hash-source-ip", bootstrap: "http", params: http + "GET+http://api/hash&from=10.0.0.6:4711"},
	{name: "ejected-endpoint", bootstrap: "http", params: http + "GET+http://api/ejected",
		setup: func(t testing.TB, sc *sidecar.Sidecar) { eject(t, sc, "outlier", "10.0.4.2:8080") }},
	{name: "circuit-breaker-open", bootstrap: "http", params: http + "GET+http://api/busy",
		setup: func(t testing.TB, sc *sidecar.Sidecar) { sc.Snapshot().Clusters["busy"].Stats.RqActive.Add(1) }},
	{name: "panic-mode", bootstrap: "http", params: http + "GET+http://api/panic"},
	{name: "priority-failover", bootstrap: "http", params: http + "GET+http://api/failover"},
	// Filter-chain match and the TCP proxy.
	{name: "chain-server-name", bootstrap: "tcp", params: tcp + "tls://api.example.com:443"},
	{name: "chain-server-name-wildcard", bootstrap: "tcp", params: tcp + "tls://www.example.com:443&alpn=h2,http/1.1"},
	{name: "chain-transport-protocol", bootstrap: "tcp", params: tcp + "tls://other.net:443"},
	{name: "chain-destination-port", bootstrap: "tcp", params: "listener=edge&request=tcp://127.0.0.1:9443"},
	{name: "chain-source-ip", bootstrap: "tcp", params: tcp + "tcp://127.0.0.1:9000&from=192.168.1.9:5555"},
	{name: "chain-none", bootstrap: "tcp", params: tcp + "tcp://127.0.0.1:9000&from=172.16.0.1:5555"},
	{name: "network-rbac-allow", bootstrap: "tcp", params: tcp + "tcp://127.0.0.1:9000&from=10.0.0.5:5555"},
	{name: "network-rbac-deny", bootstrap: "tcp", params: tcp + "tcp://127.0.0.1:9000&from=10.1.0.5:5555"},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			sc := newSidecar(t, tc.bootstrap)
			if tc.setup != nil {
				tc.setup(t, sc)
			}
			var b bytes.Buffer
			if err := explainQuery(t, sc, tc.params).WriteText(&b); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", "golden", tc.name+".txt"), b.Bytes())
		})
	}
}

// TestGoldenJSON pins the JSON form, which `meshlb explain --json` prints.
func TestGoldenJSON(t *testing.T) {
	sc := newSidecar(t, "http")
	var b bytes.Buffer
	if err := explainQuery(t, sc, http+"GET+http://api/hash&header=x-user:+alice").WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("testdata", "golden", "ring-hash-key.json"), b.Bytes())
}

// checkGolden compares got with the file at path, or writes it with
// -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./sidecar/explain -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}
