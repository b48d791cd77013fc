package client

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshlb/meshlb/sidecar/config"
)

// kind is one of the five xDS resource types the client subscribes to.
type kind int

const (
	kindListener kind = iota
	kindRoute
	kindCluster
	kindEndpoint
	kindSecret
	numKinds
)

// subscribeOrder is the order of the first requests on a stream: clusters and
// their endpoints before listeners and their routes, as Envoy does, so a
// listener rarely waits for the cluster it names. Secrets, which both
// name, come last.
var subscribeOrder = [numKinds]kind{kindCluster, kindEndpoint, kindListener, kindRoute, kindSecret}

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
	kindSecret: {
		url: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", label: "secret",
		newMsg: func() proto.Message { return new(tlsv3.Secret) },
		name:   func(m proto.Message) string { return m.(*tlsv3.Secret).GetName() },
		decode: func(m proto.Message) (any, error) { return config.DecodeSecret(m.(*tlsv3.Secret)) },
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
// is the name the resource must have (Delta's Resource.name). If prev holds
// the resource with the same bytes, its decoded form is reused without
// unmarshalling, so an unchanged resource keeps its identity (see
// [state.build]) and costs no decoding. On error it returns the resource's
// name when it is known, so that the resource can be rejected alone.
func decode(k kind, a *anypb.Any, want, version string, prev *index) (*resource, string, error) {
	info := &kinds[k]
	if a.GetTypeUrl() == wrapperURL {
		w := new(discoveryv3.Resource)
		if err := a.UnmarshalTo(w); err != nil {
			return nil, want, fmt.Errorf("unwrapping %s %q: %w", info.label, want, err)
		}
		a, want = w.GetResource(), w.GetName()
	}
	if a.GetTypeUrl() != info.url {
		return nil, want, fmt.Errorf("%s %q: resource of type %q in a %s response", info.label, want, a.GetTypeUrl(), info.url)
	}
	if p := prev.same(want, a.GetValue()); p != nil {
		if p.version == version || want == "" {
			// State-of-the-world resources carry no version of their
			// own: the unchanged resource is kept as it is.
			return p, p.name, nil
		}
		return &resource{name: p.name, version: version, raw: a, msg: p.msg, spec: p.spec}, p.name, nil
	}
	msg := info.newMsg()
	if err := a.UnmarshalTo(msg); err != nil {
		return nil, want, fmt.Errorf("%s %q: %w", info.label, want, err)
	}
	r := &resource{name: info.name(msg), version: version, raw: a, msg: msg}
	switch {
	case r.name == "":
		return nil, want, fmt.Errorf("%s without a name", info.label)
	case want != "" && want != r.name:
		return nil, want, fmt.Errorf("%s %q: sent under the name %q", info.label, r.name, want)
	}
	spec, err := info.decode(msg)
	if err != nil {
		return nil, r.name, err
	}
	r.spec = spec
	return r, r.name, nil
}

// index finds the resources a response resends unchanged: by name when the
// response names them (Delta, wrapped resources), else by their bytes.
type index struct {
	byName  map[string]*resource
	byBytes map[uint64]*resource // by hash of the bytes; built on first use
}

// hashSeed seeds the hashes of [index].
var hashSeed = maphash.MakeSeed()

// same returns the resource with the wire bytes value and, if name is not
// empty, that name, or nil.
func (x *index) same(name string, value []byte) *resource {
	if name != "" {
		if p := x.byName[name]; p != nil && bytes.Equal(p.raw.GetValue(), value) {
			return p
		}
		return nil
	}
	if x.byBytes == nil {
		x.byBytes = make(map[uint64]*resource, len(x.byName))
		for _, p := range x.byName {
			x.byBytes[maphash.Bytes(hashSeed, p.raw.GetValue())] = p
		}
	}
	if p := x.byBytes[maphash.Bytes(hashSeed, value)]; p != nil && bytes.Equal(p.raw.GetValue(), value) {
		return p
	}
	return nil
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

// badResource is a resource of a response that was not accepted: its name,
// or "" if it could not be read, and why.
type badResource struct {
	name string
	err  error
}

// decodeAll decodes the resources of one response, each on its own: it
// returns the good ones by name and the bad ones, so that a bad resource
// does not keep the good ones out (Envoy's per-resource accept and reject).
func decodeAll(k kind, items []item, prev map[string]*resource) (map[string]*resource, []badResource) {
	out := make(map[string]*resource, len(items))
	var rej []badResource
	seen := make(map[string]bool, len(items))
	x := &index{byName: prev}
	for _, it := range items {
		r, name, err := decode(k, it.a, it.name, it.version, x)
		switch {
		case name != "" && seen[name]:
			delete(out, name)
			rej = append(rej, badResource{name, fmt.Errorf("%s %q: sent twice", kinds[k].label, name)})
		case err != nil:
			rej = append(rej, badResource{name, err})
		default:
			out[r.name] = r
		}
		seen[name] = true
	}
	return out, rej
}

// nackError returns the error a NACK of rejected carries: one line per
// rejected resource, sorted by name and message, so that the same
// rejections always read the same and the pacer recognises a repeat.
func nackError(rejected []badResource) error {
	slices.SortFunc(rejected, func(a, b badResource) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.err.Error(), b.err.Error()))
	})
	errs := make([]error, len(rejected))
	for i, r := range rejected {
		errs[i] = r.err
	}
	return errors.Join(errs...)
}
