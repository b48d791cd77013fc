package consul

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// Each Proxy.Config key meshlb ignores is logged once per process, not
// on every catalog build; keys it honours are not logged.
func TestWarnIgnoredKeysOnce(t *testing.T) {
	warnedKeys.Clear()
	t.Cleanup(warnedKeys.Clear)
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	cfg := map[string]any{"protocol": "http", "local_request_timeout_ms": 500,
		"envoy_prometheus_bind_addr": "0.0.0.0:9102", "balance_inbound_connections": "exact_balance"}
	for _, id := range []string{"web-sidecar-proxy", "api-sidecar-proxy", "web-sidecar-proxy"} {
		warnIgnoredKeys(logger, id, cfg)
	}
	out := buf.String()
	for _, k := range []string{"envoy_prometheus_bind_addr", "balance_inbound_connections"} {
		if n := strings.Count(out, "key="+k); n != 1 {
			t.Errorf("%s logged %d times, want once:\n%s", k, n, out)
		}
	}
	for _, k := range []string{"protocol", "local_request_timeout_ms"} {
		if strings.Contains(out, "key="+k) {
			t.Errorf("honoured key %s was logged:\n%s", k, out)
		}
	}
}
