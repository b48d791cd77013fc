package config

import (
	"strings"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// The HTTP connection manager fields Consul's xDS server sets on every
// HTTP listener besides the ones http.go decodes: tracing and WebSocket
// upgrades, path normalization.

var upgradeFields = allow(&hcmv3.HttpConnectionManager_UpgradeConfig{}, "upgrade_type", "enabled")

// decodeHCMConsul decodes tracing, upgrade_configs, normalize_path and
// merge_slashes of m into out. normalize_path defaults to false, as
// Envoy's (its runtime key http_connection_manager.normalize_path is not
// read).
//
// tracing is accepted whatever it holds (Consul sends random_sampling: {}
// on every HTTP listener): tracing never changes what is forwarded, and
// meshlb emits no spans. The sidecar says so once at startup
// (HTTPManager.Tracing), so that it is documented, not silent.
//
// upgrade_configs may only enable websocket, which the HTTP/1 engine
// always tunnels after a 101 (sidecar/l7 tunnel.go); other upgrade types,
// per-upgrade filters and enabled: false would change that and are
// rejected.
func decodeHCMConsul(m *hcmv3.HttpConnectionManager, out *HTTPManager) error {
	out.Tracing = m.GetTracing() != nil
	out.NormalizePath = m.GetNormalizePath().GetValue()
	out.MergeSlashes = m.GetMergeSlashes()
	for i, u := range m.GetUpgradeConfigs() {
		path := index("upgrade_configs", i)
		if err := upgradeFields.check(u); err != nil {
			return within(path, err)
		}
		if !strings.EqualFold(u.GetUpgradeType(), "websocket") {
			return errorf(path+".upgrade_type", "%q is not supported: only websocket", u.GetUpgradeType())
		}
		if e := u.GetEnabled(); e != nil && !e.GetValue() {
			return errorf(path+".enabled", "false is not supported: WebSocket upgrades are always tunnelled")
		}
	}
	return nil
}
