package config

import (
	overloadv3 "github.com/envoyproxy/go-control-plane/envoy/config/overload/v3"
	downstreamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/downstream_connections/v3"
)

// globalConnectionsMonitor is the name Envoy gives the resource monitor
// that bounds downstream connections across all listeners.
const globalConnectionsMonitor = "envoy.resource_monitors.global_downstream_max_connections"

var (
	// refresh_interval only paces Envoy's polling of monitors; this
	// monitor is a counter checked at each accept.
	overloadFields        = allow(&overloadv3.OverloadManager{}, "refresh_interval", "resource_monitors")
	resourceMonitorFields = allow(&overloadv3.ResourceMonitor{}, "name", "typed_config")
	downstreamConnsFields = allow(&downstreamv3.DownstreamConnectionsConfig{}, "max_active_downstream_connections")
	downstreamConnsType   = typeURL(&downstreamv3.DownstreamConnectionsConfig{})
)

// decodeOverload returns the global downstream connection limit set by
// overload_manager, or 0. Only the global_downstream_max_connections
// resource monitor is supported; actions and other monitors are rejected.
func decodeOverload(om *overloadv3.OverloadManager) (int64, error) {
	if err := overloadFields.check(om); err != nil {
		return 0, err
	}
	var limit int64
	for i, rm := range om.GetResourceMonitors() {
		path := index("resource_monitors", i)
		if err := resourceMonitorFields.check(rm); err != nil {
			return 0, within(path, err)
		}
		if rm.GetName() != globalConnectionsMonitor || rm.GetTypedConfig().GetTypeUrl() != downstreamConnsType {
			return 0, errorf(path, "only %s with %s is supported", globalConnectionsMonitor, downstreamConnsType)
		}
		c := &downstreamv3.DownstreamConnectionsConfig{}
		if err := unpack(rm.GetTypedConfig(), c); err != nil {
			return 0, within(path+".typed_config", err)
		}
		if err := downstreamConnsFields.check(c); err != nil {
			return 0, within(path+".typed_config", err)
		}
		limit = c.GetMaxActiveDownstreamConnections()
	}
	return limit, nil
}
