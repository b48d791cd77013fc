package client

import (
	"bytes"
	"errors"
	"fmt"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshlb/meshlb/sidecar/config"
)

// kind is one of the four xDS resource types the client subscribes to.
type kind int

const (
	kindListener kind = iota
	kindRoute
	kindCluster
	kindEndpoint
	numKinds
)

// subscribeOrder is the order of the first requests on a stream: clusters and
// their endpoints before listeners and their routes, as Envoy does, so a
// listener rarely waits for the cluster it names.
var subscribeOrder = [numKinds]kind{kindCluster, kindEndpoint, kindListener, kindRoute}

// wrapperURL is the type of discovery.v3.Resource, in which a server may wrap
// state-of-the-world resources (client feature xds.config.resource-in-sotw).
const wrapperURL = "type.googleapis.com/envoy.service.discovery.v3.Resource"

// kindInfo describes how to decode one resource type.
type kindInfo struct {
	url    string
	label  string // for messages: "listener", ...
	newMsg func() proto.Message
	name   func(proto.Message) string
	// decode returns the decoded spec: a pointer to a sidecar/config type.
	decode func(proto.Message) (any, error)
	// full is true for the types whose state-of-the-world responses hold the
	// whole set (LDS, CDS): a resource left out is removed.
	full bool
}

var kinds = [numKinds]kindInfo{
	kindListener: {
		url: "type.googleapis.com/envoy.config.listener.v3.Listener", label: "listener", full: true,
		newMsg: func() proto.Message { return new(listenerv3.Listener) },
		name:   func(m proto.Message) string { return m.(*listenerv3.Listener).GetName() },
		decode: func(m proto.Message) (any, error) { return config.DecodeListener(m.(*listenerv3.Listener)) },
	},
	kindRoute: {
		url: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", label: "route_config",
		newMsg: func() proto.Message { return new(routev3.RouteConfiguration) },
		name:   func(m proto.Message) string { return m.(*routev3.RouteConfiguration).GetName() },
		decode: func(m proto.Message) (any, error) { return config.DecodeRouteConfig(m.(*routev3.RouteConfiguration)) },
	},
	kindCluster: {
		url: "type.googleapis.com/envoy.config.cluster.v3.Cluster", label: "cluster", full: true,
		newMsg: func() proto.Message { return new(clusterv3.Cluster) },
		name:   func(m proto.Message) string { return m.(*clusterv3.Cluster).GetName() },
		decode: func(m proto.Message) (any, error) { return config.DecodeCluster(m.(*clusterv3.Cluster)) },
	},
	kindEndpoint: {
		url: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", label: "cluster_load_assignment",
		newMsg: func() proto.Message { return new(endpointv3.ClusterLoadAssignment) },
		name:   func(m proto.Message) string { return m.(*endpointv3.ClusterLoadAssignment).GetClusterName() },
		decode: func(m proto.Message) (any, error) {
			return config.DecodeLoadAssignment(m.(*endpointv3.ClusterLoadAssignment))
		},
	},
}

// kindOf returns the kind of a type URL.
func kindOf(url string) (kind, bool) {
	for k := range numKinds {
		if kinds[k].url == url {
			return k, true
		}
	}
	return 0, false
}

// resource is one accepted xDS resource: its wire form, kept for persistence
// and config_dump, and its decoded spec. A resource is immutable.
type resource struct {
	name    string
	version string // Delta: the resource's version; SotW: the response's
	raw     *anypb.Any
	msg     proto.Message
	spec    any // *config.Listener, *config.RouteConfig, ...
}

// decode unmarshals and decodes one resource of kind k. want, if not empty,
// is the name the resource must have (Delta's Resource.name). If prev holds a
// resource of that name with the same bytes, its decoded form is reused, so
// an unchanged resource keeps its identity (see [state.build]).
func decode(k kind, a *anypb.Any, want, version string, prev map[string]*resource) (*resource, error) {
	info := &kinds[k]
	if a.GetTypeUrl() == wrapperURL {
		w := new(discoveryv3.Resource)
		if err := a.UnmarshalTo(w); err != nil {
			return nil, fmt.Errorf("unwrapping %s: %w", info.label, err)
		}
		a, want = w.GetResource(), w.GetName()
	}
	if a.GetTypeUrl() != info.url {
		return nil, fmt.Errorf("%s: resource of type %q in a %s response", info.label, a.GetTypeUrl(), info.url)
	}
	msg := info.newMsg()
	if err := a.UnmarshalTo(msg); err != nil {
		return nil, fmt.Errorf("%s %q: %w", info.label, want, err)
	}
	r := &resource{name: info.name(msg), version: version, raw: a, msg: msg}
	switch {
	case r.name == "":
		return nil, fmt.Errorf("%s without a name", info.label)
	case want != "" && want != r.name:
		return nil, fmt.Errorf("%s %q: sent under the name %q", info.label, r.name, want)
	}
	if p := prev[r.name]; p != nil && bytes.Equal(p.raw.GetValue(), a.GetValue()) {
		r.msg, r.spec = p.msg, p.spec
		return r, nil
	}
	spec, err := info.decode(msg)
	if err != nil {
		return nil, err
	}
	r.spec = spec
	return r, nil
}

// item is one resource as received, before decoding.
type item struct {
	a       *anypb.Any
	name    string // Delta's Resource.name, "" in SotW
	version string
}

// sotwItems returns the items of a state-of-the-world response.
func sotwItems(anys []*anypb.Any, version string) []item {
	out := make([]item, len(anys))
	for i, a := range anys {
		out[i] = item{a: a, version: version}
	}
	return out
}

// deltaItems returns the items of an incremental response. A Resource
// without a body (a TTL heartbeat) is left out: it changes nothing.
func deltaItems(rs []*discoveryv3.Resource) []item {
	out := make([]item, 0, len(rs))
	for _, r := range rs {
		if r.GetResource() != nil {
			out = append(out, item{a: r.GetResource(), name: r.GetName(), version: r.GetVersion()})
		}
	}
	return out
}

// decodeAll decodes the resources of one response. It returns the errors of
// all bad resources joined, so that one NACK names them all.
func decodeAll(k kind, items []item, prev map[string]*resource) (map[string]*resource, error) {
	out := make(map[string]*resource, len(items))
	var errs []error
	for _, it := range items {
		r, err := decode(k, it.a, it.name, it.version, prev)
		switch {
		case err != nil:
			errs = append(errs, err)
		case out[r.name] != nil:
			errs = append(errs, fmt.Errorf("%s %q: sent twice", kinds[k].label, r.name))
		default:
			out[r.name] = r
		}
	}
	return out, errors.Join(errs...)
}
