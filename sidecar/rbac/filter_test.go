package rbac

import (
	"bytes"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// counters returns a counter registry and a reader of its values.
func counters() (func(string) *atomic.Uint64, func() map[string]uint64) {
	m := map[string]*atomic.Uint64{}
	get := func(name string) *atomic.Uint64 {
		if m[name] == nil {
			m[name] = new(atomic.Uint64)
		}
		return m[name]
	}
	read := func() map[string]uint64 {
		out := map[string]uint64{}
		for n, c := range m {
			if v := c.Load(); v != 0 {
				out[n] = v
			}
		}
		return out
	}
	return get, read
}

// TestFilterDenialCountedAndLogged: an ALLOW rule for web lets web in and
// keeps db out; both decisions are counted, and the denials are logged at
// most once a second, the next line saying how many were left out.
func TestFilterDenialCountedAndLogged(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	counter, read := counters()
	c := &spec.RBAC{Rules: &spec.RBACRules{Action: spec.RBACAllow, Policies: []spec.RBACPolicy{anyPolicy("web", consulWeb)}}}
	f, err := NewFilter(c, "connect_authz.rbac.", "connect_authz.rbac.", counter, logger)
	if err != nil {
		t.Fatal(err)
	}
	web, db := &Input{Conn: peerConn(t, webID)}, &Input{Conn: peerConn(t, dbID), Request: request("GET", "/admin")}
	if !f.Decide(web) {
		t.Error("web denied")
	}
	for range 3 {
		if f.Decide(db) {
			t.Error("db allowed")
		}
	}
	want := map[string]uint64{"connect_authz.rbac.allowed": 1, "connect_authz.rbac.denied": 3}
	if diff := cmp.Diff(want, read()); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d log lines for 3 denials within a second, want 1:\n%s", len(lines), buf.String())
	}
	for _, s := range []string{`msg="rbac: access denied"`, "filter=connect_authz.rbac.", "matched_policy=none",
		"denials_not_logged=0", "remote=10.1.2.3:50000", "principal=" + dbID, "method=GET", "path=/admin"} {
		if !strings.Contains(lines[0], s) {
			t.Errorf("log line %q lacks %q", lines[0], s)
		}
	}
	f.log.next.Store(0) // a second later
	f.Decide(db)
	if !strings.Contains(buf.String(), "denials_not_logged=2") {
		t.Errorf("the second line does not count the 2 denials left out:\n%s", buf.String())
	}
}

// TestFilterNoLogger: without a logger denials are only counted.
func TestFilterNoLogger(t *testing.T) {
	counter, read := counters()
	c := &spec.RBAC{Rules: &spec.RBACRules{Action: spec.RBACAllow}}
	f, err := NewFilter(c, "p.", "p.", counter, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Decide(&Input{}) {
		t.Error("ALLOW without policies allowed")
	}
	if got := read()["p.denied"]; got != 1 {
		t.Errorf("denied = %d, want 1", got)
	}
}

func BenchmarkFilterDenied(b *testing.B) {
	counter, _ := counters()
	c := &spec.RBAC{Rules: consulL7()}
	f, err := NewFilter(c, "p.", "p.", counter, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	in := &Input{Conn: peerConn(b, webID), Request: request("POST", "/api/admin/x")}
	b.ReportAllocs()
	for b.Loop() {
		if f.Decide(in) {
			b.Fatal("allowed")
		}
	}
}
