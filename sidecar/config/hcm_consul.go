package config

import (
	"strings"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/meshlb/meshlb/sidecar/spec"
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
// upgrade_configs lists the upgrade types the listener tunnels after a
// 101 (sidecar/l7 tunnel.go), enabled or not; a request for another is
// refused 403, as Envoy does. CONNECT (which Envoy handles as an upgrade
// type) and per-upgrade filters are rejected.
func decodeHCMConsul(m *hcmv3.HttpConnectionManager, out *HTTPManager) error {
	out.Tracing = m.GetTracing() != nil
	out.NormalizePath = m.GetNormalizePath().GetValue()
	out.MergeSlashes = m.GetMergeSlashes()
	for i, u := range m.GetUpgradeConfigs() {
		path := index("upgrade_configs", i)
		if err := upgradeFields.check(u); err != nil {
			return within(path, err)
		}
		up, err := decodeUpgrade(u.GetUpgradeType(), u.GetEnabled())
		if err != nil {
			return within(path, err)
		}
		out.Upgrades = append(out.Upgrades, up)
	}
	return nil
}

// decodeUpgrade decodes one upgrade_configs entry's type and enabled
// (default true), of the connection manager or a route.
func decodeUpgrade(typ string, enabled *wrapperspb.BoolValue) (spec.Upgrade, error) {
	switch {
	case typ == "":
		return spec.Upgrade{}, errorf("upgrade_type", "must not be empty")
	case strings.EqualFold(typ, "CONNECT"):
		return spec.Upgrade{}, errorf("upgrade_type", "%q is not supported: CONNECT is not relayed", typ)
	}
	return spec.Upgrade{Type: typ, Enabled: enabled == nil || enabled.GetValue()}, nil
}
