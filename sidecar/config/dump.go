package config

import (
	"bytes"
	"encoding/json"
	"errors"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Dump renders resources as the JSON of Envoy's /config_dump: an
// admin.v3.ConfigDump holding, in Envoy's order, a ClustersConfigDump,
// EndpointsConfigDump, ListenersConfigDump and RoutesConfigDump, with the
// resources in their dynamic (active) sections. The output is indented and
// stable for equal input. Every type in a typed_config must be one this
// package decodes. Dump is safe for concurrent use.
func Dump(listeners []*listenerv3.Listener, routes []*routev3.RouteConfiguration,
	clusters []*clusterv3.Cluster, endpoints []*endpointv3.ClusterLoadAssignment,
) ([]byte, error) {
	return dump(false, listeners, routes, clusters, endpoints)
}

// dump is Dump, with the resources in the static sections when static is
// set (a bootstrap's static_resources).
func dump(static bool, listeners []*listenerv3.Listener, routes []*routev3.RouteConfiguration,
	clusters []*clusterv3.Cluster, endpoints []*endpointv3.ClusterLoadAssignment,
) ([]byte, error) {
	ls, errL := packAll(listeners)
	rs, errR := packAll(routes)
	cs, errC := packAll(clusters)
	es, errE := packAll(endpoints)
	if err := errors.Join(errL, errR, errC, errE); err != nil {
		return nil, err
	}
	return marshalDump(clustersDump(static, cs), endpointsDump(static, es),
		listenersDump(static, listeners, ls), routesDump(static, rs))
}

func clustersDump(static bool, cs []*anypb.Any) *adminv3.ClustersConfigDump {
	d := &adminv3.ClustersConfigDump{}
	for _, a := range cs {
		if static {
			d.StaticClusters = append(d.StaticClusters, &adminv3.ClustersConfigDump_StaticCluster{Cluster: a})
		} else {
			d.DynamicActiveClusters = append(d.DynamicActiveClusters, &adminv3.ClustersConfigDump_DynamicCluster{Cluster: a})
		}
	}
	return d
}

func endpointsDump(static bool, es []*anypb.Any) *adminv3.EndpointsConfigDump {
	d := &adminv3.EndpointsConfigDump{}
	for _, a := range es {
		if static {
			d.StaticEndpointConfigs = append(d.StaticEndpointConfigs, &adminv3.EndpointsConfigDump_StaticEndpointConfig{EndpointConfig: a})
		} else {
			d.DynamicEndpointConfigs = append(d.DynamicEndpointConfigs, &adminv3.EndpointsConfigDump_DynamicEndpointConfig{EndpointConfig: a})
		}
	}
	return d
}

func listenersDump(static bool, listeners []*listenerv3.Listener, ls []*anypb.Any) *adminv3.ListenersConfigDump {
	d := &adminv3.ListenersConfigDump{}
	for i, a := range ls {
		if static {
			d.StaticListeners = append(d.StaticListeners, &adminv3.ListenersConfigDump_StaticListener{Listener: a})
			continue
		}
		d.DynamicListeners = append(d.DynamicListeners, &adminv3.ListenersConfigDump_DynamicListener{
			Name:        listeners[i].GetName(),
			ActiveState: &adminv3.ListenersConfigDump_DynamicListenerState{Listener: a},
		})
	}
	return d
}

func routesDump(static bool, rs []*anypb.Any) *adminv3.RoutesConfigDump {
	d := &adminv3.RoutesConfigDump{}
	for _, a := range rs {
		if static {
			d.StaticRouteConfigs = append(d.StaticRouteConfigs, &adminv3.RoutesConfigDump_StaticRouteConfig{RouteConfig: a})
		} else {
			d.DynamicRouteConfigs = append(d.DynamicRouteConfigs, &adminv3.RoutesConfigDump_DynamicRouteConfig{RouteConfig: a})
		}
	}
	return d
}

// packAll packs every message of ms into an Any.
func packAll[M proto.Message](ms []M) ([]*anypb.Any, error) {
	out := make([]*anypb.Any, 0, len(ms))
	for _, m := range ms {
		a, err := anypb.New(m)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// marshalDump renders the sections as one ConfigDump. protojson output is
// deliberately unstable in its spacing, so it is re-indented.
func marshalDump(sections ...proto.Message) ([]byte, error) {
	d := &adminv3.ConfigDump{}
	for _, s := range sections {
		a, err := anypb.New(s)
		if err != nil {
			return nil, err
		}
		d.Configs = append(d.Configs, a)
	}
	// Proto field names, as Envoy writes them (and as ?mask= and
	// ?resource= name them).
	raw, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(d)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
