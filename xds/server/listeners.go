package server

import (
	"fmt"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxy "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/meshlb/meshlb/discovery"
)

// InboundListener is the name of the listener that accepts traffic for the
// local application, and of its inline route configuration.
const InboundListener = "inbound"

// UpstreamName returns the name of the outbound listener, and of the RDS
// route configuration, for upstream service svc: "upstream:<svc>".
func UpstreamName(svc string) string { return "upstream:" + svc }

// upstreamListener returns the outbound listener for u, named name, that
// proxies to the cluster of svc at L4 or L7 depending on svc's protocol.
func upstreamListener(name string, u discovery.Upstream, svc *discovery.Service) (*listener.Listener, error) {
	stat := "upstream_" + svc.Name
	var f *listener.Filter
	var err error
	if svc.Protocol == discovery.ProtocolHTTP {
		f, err = hcmFilter(&hcm.HttpConnectionManager{
			StatPrefix: stat,
			RouteSpecifier: &hcm.HttpConnectionManager_Rds{Rds: &hcm.Rds{
				ConfigSource:    adsConfigSource(),
				RouteConfigName: UpstreamName(svc.Name),
			}},
		})
	} else {
		f, err = tcpUpstreamFilter(stat, svc)
	}
	if err != nil {
		return nil, fmt.Errorf("translating listener %q: %w", name, err)
	}
	return newListener(name, u.BindAddress, u.BindPort, f), nil
}

// inboundListener returns the listener on sc.InboundAddr:sc.InboundPort that
// forwards to [LocalAppCluster]; HTTP services get an inline route table.
// With authz set, the network (TCP) or HTTP RBAC filter that enforces
// intentions for the service runs first. With mtls, an HTTP listener
// tells the app who called in x-forwarded-client-cert (see [inboundXFCC]).
func inboundListener(sc *discovery.Sidecar, p discovery.Protocol, authz *inboundAuthz, mtls bool) (*listener.Listener, error) {
	fs, err := inboundFilters(sc, p, authz, mtls)
	if err != nil {
		return nil, fmt.Errorf("translating listener %q: %w", InboundListener, err)
	}
	return newListener(InboundListener, sc.InboundAddr, sc.InboundPort, fs...), nil
}

// inboundFilters returns the network filters of [inboundListener]: the
// network RBAC filter (with authz) and tcp_proxy, or the HTTP connection
// manager.
func inboundFilters(sc *discovery.Sidecar, p discovery.Protocol, authz *inboundAuthz, mtls bool) ([]*listener.Filter, error) {
	if p != discovery.ProtocolHTTP {
		var fs []*listener.Filter
		if authz != nil {
			rf, err := networkRBACFilter(authz.mesh, authz.dest)
			if err != nil {
				return nil, err
			}
			fs = append(fs, rf)
		}
		f, err := tcpProxyFilter(InboundListener, LocalAppCluster)
		if err != nil {
			return nil, err
		}
		return append(fs, f), nil
	}
	m := &hcm.HttpConnectionManager{
		StatPrefix: InboundListener,
		RouteSpecifier: &hcm.HttpConnectionManager_RouteConfig{
			RouteConfig: inboundRoutes(sc),
		},
	}
	if mtls {
		inboundXFCC(m)
	}
	if authz != nil {
		rf, err := httpRBACFilter(authz.mesh, authz.dest)
		if err != nil {
			return nil, err
		}
		m.HttpFilters = []*hcm.HttpFilter{rf}
	}
	f, err := hcmFilter(m)
	if err != nil {
		return nil, err
	}
	return []*listener.Filter{f}, nil
}

// inboundXFCC makes the public listener's connection manager append the
// caller's certificate details to x-forwarded-client-cert, as Consul's
// public listener does: APPEND_FORWARD with the subject, certificate,
// chain, DNS and URI SANs, so the app reads the caller's SPIFFE ID from
// "URI=". An XFCC header from the caller survives only over mTLS (it is
// removed on plaintext), and this hop's element is always last.
func inboundXFCC(m *hcm.HttpConnectionManager) {
	m.ForwardClientCertDetails = hcm.HttpConnectionManager_APPEND_FORWARD
	m.SetCurrentClientCertDetails = &hcm.HttpConnectionManager_SetCurrentClientCertDetails{
		Subject: wrapperspb.Bool(true), Cert: true, Chain: true, Dns: true, Uri: true}
}

// inboundAuthz says whose intentions an inbound listener enforces.
type inboundAuthz struct {
	mesh *discovery.Mesh
	dest string // the service's name
}

// newListener returns the listener on addr:port with one filter chain of
// filters fs.
func newListener(name, addr string, port int, fs ...*listener.Filter) *listener.Listener {
	return &listener.Listener{
		Name:         name,
		Address:      socketAddress(addr, port),
		FilterChains: []*listener.FilterChain{{Filters: fs}},
	}
}

// tcpProxyFilter returns an envoy.filters.network.tcp_proxy filter to cluster.
func tcpProxyFilter(stat, cluster string) (*listener.Filter, error) {
	return typedFilter(wellknown.TCPProxy, &tcpproxy.TcpProxy{
		StatPrefix:       stat,
		ClusterSpecifier: &tcpproxy.TcpProxy_Cluster{Cluster: cluster},
	})
}

// hcmFilter completes m with codec AUTO, WebSocket upgrades allowed and
// the router filter after any HTTP filters it has, and returns it as an
// envoy.filters.network.http_connection_manager filter.
func hcmFilter(m *hcm.HttpConnectionManager) (*listener.Filter, error) {
	r, err := marshalAny(&router.Router{})
	if err != nil {
		return nil, err
	}
	m.CodecType = hcm.HttpConnectionManager_AUTO
	// WebSocket upgrades pass, as on Consul's listeners: an HCM without
	// upgrade_configs refuses every upgrade with 403, as Envoy's does.
	m.UpgradeConfigs = []*hcm.HttpConnectionManager_UpgradeConfig{{UpgradeType: "websocket"}}
	m.HttpFilters = append(m.HttpFilters, &hcm.HttpFilter{
		Name:       wellknown.Router,
		ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: r},
	})
	return typedFilter(wellknown.HTTPConnectionManager, m)
}

func typedFilter(name string, m proto.Message) (*listener.Filter, error) {
	a, err := marshalAny(m)
	if err != nil {
		return nil, err
	}
	return &listener.Filter{Name: name, ConfigType: &listener.Filter_TypedConfig{TypedConfig: a}}, nil
}

// marshalAny packs m deterministically, so equal configs give equal bytes
// and therefore equal versions.
func marshalAny(m proto.Message) (*anypb.Any, error) {
	a := new(anypb.Any)
	if err := anypb.MarshalFrom(a, m, proto.MarshalOptions{Deterministic: true}); err != nil {
		return nil, fmt.Errorf("packing %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return a, nil
}
