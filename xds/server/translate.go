// Package server is the control server's xDS side: it translates a
// [discovery.Catalog] into Envoy v3 resources for each sidecar and serves
// them over gRPC ADS (state-of-the-world and delta) with go-control-plane.
//
// Every node gets a whole, validated, internally consistent snapshot whose
// version is a hash of its content, so replicas agree on versions and a node
// whose resources did not change keeps its version.
//
// Resource naming, for a sidecar whose upstreams include service S:
//   - cluster S (EDS) and ClusterLoadAssignment S, once per service;
//   - listener "upstream:S" (see [UpstreamName]) on the upstream's bind
//     address; if the sidecar lists S more than once, each listener is named
//     "upstream:S@<bind address:port>" instead, to stay unique;
//   - for HTTP services, RouteConfiguration "upstream:S", shared by all
//     listeners of S;
//   - with an inbound port: listener [InboundListener] and STATIC cluster
//     [LocalAppCluster].
package server

import (
	"fmt"
	"net"
	"strconv"

	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/meshlb/meshlb/discovery"
)

// Translate returns the snapshot for the sidecar whose ID is nodeID: its
// clusters, endpoints, listeners and routes, each validated, and a version
// that is a content hash of them. The snapshot passes
// [cache.Snapshot.Consistent]. Translate is safe for concurrent use.
func Translate(cat *discovery.Catalog, nodeID string) (*cache.Snapshot, error) {
	for _, svc := range cat.Sidecars() {
		if svc.Sidecar.ID == nodeID {
			return translateService(cat, svc)
		}
	}
	return nil, fmt.Errorf("node %q: no sidecar with this id in the catalog", nodeID)
}

// translateService translates the sidecar of svc, which must have one.
func translateService(cat *discovery.Catalog, svc *discovery.Service) (*cache.Snapshot, error) {
	snap, err := buildSnapshot(cat, svc)
	if err != nil {
		return nil, fmt.Errorf("translating node %q: %w", svc.Sidecar.ID, err)
	}
	return snap, nil
}

func buildSnapshot(cat *discovery.Catalog, svc *discovery.Service) (*cache.Snapshot, error) {
	res, err := buildResources(cat, svc)
	if err != nil {
		return nil, err
	}
	if err := res.validate(); err != nil {
		return nil, err
	}
	version, err := res.version()
	if err != nil {
		return nil, err
	}
	snap, err := cache.NewSnapshot(version, res.byType())
	if err != nil {
		return nil, err
	}
	if err := snap.Consistent(); err != nil {
		return nil, fmt.Errorf("checking consistency: %w", err)
	}
	return snap, nil
}

// buildResources returns the resources of svc's sidecar, sorted by name.
func buildResources(cat *discovery.Catalog, svc *discovery.Service) (*resources, error) {
	sc := svc.Sidecar
	res := &resources{cat: cat, clusterSet: make(map[string]bool)}
	names := listenerNames(sc.Upstreams)
	seen := make(map[string]bool, len(sc.Upstreams))
	for i, u := range sc.Upstreams {
		up, ok := cat.Service(u.Service)
		if !ok {
			return nil, fmt.Errorf("translating upstream %q: unknown service", u.Service)
		}
		if err := res.addUpstream(names[i], u, up, !seen[u.Service]); err != nil {
			return nil, err
		}
		seen[u.Service] = true
	}
	if sc.InboundPort != 0 {
		if res.clusterSet[LocalAppCluster] {
			return nil, fmt.Errorf("translating upstream %q: the name is taken by the inbound cluster", LocalAppCluster)
		}
		if err := res.addInbound(sc, svc.Protocol); err != nil {
			return nil, err
		}
	}
	res.sort()
	return res, nil
}

// addUpstream adds the listener for u and, when first is set, the clusters
// and endpoints of svc and of its routes' destinations, and (for HTTP) its
// route table.
func (r *resources) addUpstream(name string, u discovery.Upstream, svc *discovery.Service, first bool) error {
	l, err := upstreamListener(name, u, svc)
	if err != nil {
		return err
	}
	r.listeners = append(r.listeners, l)
	if !first {
		return nil
	}
	r.addCluster(svc, u.Limits)
	for _, rt := range svc.Routes {
		for _, d := range rt.Destinations {
			dst, ok := r.cat.Service(d.Service)
			if !ok {
				return fmt.Errorf("translating upstream %q: route to unknown service %q", svc.Name, d.Service)
			}
			r.addCluster(dst, u.Limits)
		}
	}
	if svc.Protocol == discovery.ProtocolHTTP {
		r.routes = append(r.routes, upstreamRoutes(svc))
	}
	return nil
}

// addCluster adds the EDS cluster and endpoints of svc once per node, with
// the limits of the first upstream that reaches it.
func (r *resources) addCluster(svc *discovery.Service, limits *discovery.Limits) {
	if r.clusterSet[svc.Name] {
		return
	}
	r.clusterSet[svc.Name] = true
	r.clusters = append(r.clusters, edsCluster(svc, limits))
	r.endpoints = append(r.endpoints, loadAssignment(r.cat, svc))
}

// addInbound adds the inbound listener and the local application cluster.
func (r *resources) addInbound(sc *discovery.Sidecar, p discovery.Protocol) error {
	l, err := inboundListener(sc, p)
	if err != nil {
		return err
	}
	r.listeners = append(r.listeners, l)
	r.clusters = append(r.clusters, localAppCluster(sc))
	return nil
}

// listenerNames names the listener of each upstream: [UpstreamName] of its
// service, with "@<bind address:port>" appended when the service is listed
// more than once, so names stay unique and deterministic.
func listenerNames(ups []discovery.Upstream) []string {
	count := make(map[string]int, len(ups))
	for _, u := range ups {
		count[u.Service]++
	}
	names := make([]string, len(ups))
	for i, u := range ups {
		names[i] = UpstreamName(u.Service)
		if count[u.Service] > 1 {
			names[i] += "@" + net.JoinHostPort(u.BindAddress, strconv.Itoa(u.BindPort))
		}
	}
	return names
}
