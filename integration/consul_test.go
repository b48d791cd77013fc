package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// quietWithin polls until b has had no new request for a 100ms window and
// returns when that window began, measured from since. It fails the test
// if that takes longer than limit.
func quietWithin(t *testing.T, what string, b *backend, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	var quietFrom time.Time
	eventually(t, what, func() bool {
		before := b.hits.Load()
		from := time.Now()
		time.Sleep(100 * time.Millisecond) // the quiet window, inside a bounded poll
		if b.hits.Load() != before {
			return false
		}
		quietFrom = from
		return true
	})
	took := quietFrom.Sub(since)
	if took > limit {
		t.Errorf("%s: %v, want within %v", what, took, limit)
	}
	return took
}

// Services and a connect-proxy registered through the Consul API: traffic
// through the sidecar's upstream port reaches every registered instance
// directly; once an instance has its own sidecar, web is in the Connect
// mesh and, as with Consul's Envoy, only its connect-capable instance gets
// traffic, over mTLS through that sidecar, whose public listener refuses
// plaintext.
func TestConsulConnectUpstreams(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startConsul(t)
	wa, wb := startBackend(t, "a"), startBackend(t, "b")
	m := startConsulMesh(t, a, wa, wb)
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	eventually(t, "traffic to a and b through the client's upstream", func() bool {
		return seenAll(c, m.webURL(), wa, wb)
	})
	t.Logf("traffic to every instance %v after the sidecar started", time.Since(m.started))

	// A new instance of web gets traffic: registration to first request.
	wn := startBackend(t, "new")
	t0 := time.Now()
	a.registerWeb("web-new", wn, false)
	eventually(t, "traffic to a newly registered instance", func() bool { return seenAll(c, m.webURL(), wn) })
	t.Logf("newly registered instance got traffic %v after registration", time.Since(t0))

	// web-c has its own connect-proxy and sidecar: the client's traffic to
	// it enters through that sidecar's public listener.
	wc := startBackend(t, "c")
	public, admin := freePort(t), freePort(t)
	registered := time.Now()
	a.registerWeb("web-c", wc, false)
	a.register(&api.AgentServiceRegistration{
		Kind: api.ServiceKindConnectProxy, ID: "web-c-sidecar-proxy", Name: "web-sidecar-proxy",
		Address: "127.0.0.1", Port: public,
		Proxy: &api.AgentServiceConnectProxyConfig{DestinationServiceName: "web", DestinationServiceID: "web-c",
			LocalServicePort: wc.port},
	})
	start(t, "web-c sidecar", "sidecar", "--xds", m.xds, "-proxy-id", "web-c-sidecar-proxy",
		"--consul-addr", a.addr, "--admin", fmt.Sprintf("127.0.0.1:%d", admin))
	waitReady(t, admin)
	eventually(t, "traffic to c through its sidecar", func() bool { return seenAll(c, m.webURL(), wc) })
	t.Logf("instance behind its own sidecar got traffic %v after registration (its sidecar's start included)",
		time.Since(registered))
	before := wa.hits.Load() + wb.hits.Load() + wn.hits.Load()
	for range 10 {
		if code, body, err := httpGet(c, m.webURL()); err != nil || code != 200 || body != "c" {
			t.Errorf("through the upstream: %d %q %v, want c only", code, body, err)
		}
	}
	if after := wa.hits.Load() + wb.hits.Load() + wn.hits.Load(); after != before {
		t.Errorf("instances without a sidecar got %d requests, want none once web is in the mesh", after-before)
	}
	if plaintextAnswered(fmt.Sprintf("127.0.0.1:%d", public)) {
		t.Error("web-c's sidecar public listener answered plaintext")
	}
}

// A deregistered instance, and an instance whose TTL check turns critical,
// stop getting requests within 2s, and no request fails under steady load.
func TestConsulDeregisterAndCriticalUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startConsul(t)
	wa, wb, wc := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c")
	m := startConsulMesh(t, a, wa, wc)
	a.registerWeb("web-b", wb, true)
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	eventually(t, "traffic to a, b and c", func() bool { return seenAll(c, m.webURL(), wa, wb, wc) })

	ld := startLoad(m.webURL(), 4)
	eventually(t, "load to reach every instance", func() bool { return wa.hits.Load() > 50 && wb.hits.Load() > 50 })
	t0 := time.Now()
	if err := a.client.Agent().ServiceDeregister("web-a"); err != nil {
		t.Fatal(err)
	}
	took := quietWithin(t, "deregistered a to stop getting requests", wa, t0, 2*time.Second)
	t.Logf("deregistered instance got its last request %v after deregistration", took)

	t0 = time.Now()
	if err := a.client.Agent().UpdateTTL("ttl:web-b", "failing", api.HealthCritical); err != nil {
		t.Fatal(err)
	}
	took = quietWithin(t, "critical b to stop getting requests", wb, t0, 2*time.Second)
	t.Logf("critical instance got its last request %v after its check failed", took)
	before := wc.hits.Load()
	eventually(t, "load to keep flowing to c", func() bool { return wc.hits.Load() > before+50 })

	ok, fail, errs := ld.finish()
	t.Logf("load across the changes: %d ok, %d failed", ok, fail)
	if fail > 0 || ok == 0 {
		t.Errorf("%d requests failed (want 0; %d ok): %v", fail, ok, errs[:min(len(errs), 5)])
	}
}

// Consul stopped and restarted under load: traffic through the sidecar is
// unaffected, and the control server resyncs after the restart.
func TestConsulRestartUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startConsul(t)
	wa := startBackend(t, "a")
	m := startConsulMesh(t, a, wa)
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	eventually(t, "traffic to a", func() bool { return seenAll(c, m.webURL(), wa) })

	ld := startLoad(m.webURL(), 4)
	a.stop()
	eventually(t, "the control server to notice Consul is gone", func() bool {
		return strings.Contains(m.control.log.String(), "failed to query consul")
	})
	before := wa.hits.Load()
	eventually(t, "traffic to keep flowing while Consul is down", func() bool { return wa.hits.Load() > before+200 })

	a.start()
	wb := startBackend(t, "b")
	registered := time.Now()
	a.registerWeb("web-b", wb, false)
	eventually(t, "traffic to b, registered after the restart", func() bool { return wb.hits.Load() > 0 })
	t.Logf("instance registered after the restart got traffic %v after registration", time.Since(registered))

	ok, fail, errs := ld.finish()
	t.Logf("load across the restart: %d ok, %d failed", ok, fail)
	if fail > 0 || ok == 0 {
		t.Errorf("%d requests failed (want 0; %d ok): %v", fail, ok, errs[:min(len(errs), 5)])
	}
}
