// Package server is the control server's xDS side: it translates a
// [discovery.Catalog] into Envoy v3 resources for each sidecar and serves
// them over gRPC ADS (state-of-the-world and delta) with go-control-plane.
//
// Every node gets a whole, validated, internally consistent snapshot. Each
// resource type has its own version, a hash of its content, so replicas
// agree on versions, a node whose resources did not change keeps its
// versions, and a state-of-the-world push of an endpoint change sends only
// EDS. A resource is built once per version of the catalog services it
// reads and shared by every node that uses it (see [fragments]).
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

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/meshlb/meshlb/discovery"
)

// Translate returns the snapshot for the sidecar whose ID is nodeID: its
// clusters, endpoints, listeners, routes and secrets, with intentions as
// RBAC filters, each validated, with a
// version per type that is a content hash of that type's resources. The
// snapshot passes [cache.Snapshot.Consistent]. Translate is safe for
// concurrent use.
func Translate(cat *discovery.Catalog, nodeID string) (*cache.Snapshot, error) {
	for _, svc := range cat.Sidecars() {
		if svc.Sidecar.ID == nodeID {
			snap, _, err := translateService(cat, svc, nil, nil, true)
			return snap, err
		}
	}
	return nil, fmt.Errorf("node %q: no sidecar with this id in the catalog", nodeID)
}

// translateService translates the sidecar of svc, which must have one,
// taking shared resources from frags (nil: build them all) and unchanged
// types from prev, the node's previous snapshot (nil: none); rbac says
// whether intentions become RBAC filters on public listeners. It returns
// the snapshot and what the translation read from cat.
func translateService(cat *discovery.Catalog, svc *discovery.Service, frags *fragments, prev *cache.Snapshot, rbac bool) (*cache.Snapshot, inputs, error) {
	res, err := buildResources(cat, svc, frags, rbac)
	if err == nil {
		var snap *cache.Snapshot
		if snap, err = res.snapshot(prev); err == nil {
			return snap, res.cat.done(), nil
		}
	}
	return nil, inputs{}, fmt.Errorf("translating node %q: %w", svc.Sidecar.ID, err)
}

// buildResources returns the resources of svc's sidecar.
func buildResources(cat *discovery.Catalog, svc *discovery.Service, frags *fragments, rbac bool) (*resources, error) {
	sc := svc.Sidecar
	in := newReads(cat, svc)
	res := &resources{cat: in, frags: frags, clusterSet: make(map[string]bool), rbac: rbac}
	names := listenerNames(sc.Upstreams)
	seen := make(map[string]bool, len(sc.Upstreams))
	for i, u := range sc.Upstreams {
		up, ok := in.Service(u.Service)
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
		if err := res.addInbound(svc); err != nil {
			return nil, err
		}
	}
	if in.Mesh().Enabled() {
		if err := res.addSecrets(svc.SidecarIdentity(), sc.InboundPort != 0); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// addUpstream adds the listener for u and, when first is set, the clusters
// and endpoints of svc and of its routes' destinations, and (for HTTP) its
// route table.
func (r *resources) addUpstream(name string, u discovery.Upstream, svc *discovery.Service, first bool) error {
	deps, _ := depsKey(r.cat, svc.Name)
	routes := r.frags.routesKey(r.cat, svc)
	key := fragmentKey("listener", name, u.BindAddress, strconv.Itoa(u.BindPort), svc.Name, string(svc.Protocol), routes)
	if err := r.add(ldsType, key, deps, func() (types.Resource, error) {
		return upstreamListener(name, u, svc)
	}); err != nil {
		return err
	}
	if !first {
		return nil
	}
	if err := r.addCluster(svc, &u); err != nil {
		return err
	}
	for _, rt := range svc.Routes {
		for _, d := range rt.Destinations {
			dst, ok := r.cat.Service(d.Service)
			if !ok {
				return fmt.Errorf("translating upstream %q: route to unknown service %q", svc.Name, d.Service)
			}
			if err := r.addCluster(dst, &u); err != nil {
				return err
			}
		}
	}
	if svc.Protocol != discovery.ProtocolHTTP {
		return nil
	}
	return r.add(rdsType, fragmentKey("routes", svc.Name, routes), deps, func() (types.Resource, error) {
		return upstreamRoutes(svc), nil
	})
}

// addCluster adds the EDS cluster and endpoints of svc once per node, with
// the limits and passive health check of u, the first upstream that
// reaches it (nil: none).
func (r *resources) addCluster(svc *discovery.Service, u *discovery.Upstream) error {
	var (
		limits  *discovery.Limits
		outlier *discovery.Outlier
	)
	if u != nil {
		limits, outlier = u.Limits, u.PassiveHealthCheck
	}
	if r.clusterSet[svc.Name] {
		return nil
	}
	r.clusterSet[svc.Name] = true
	mesh := r.cat.Mesh()
	tls := mesh.Enabled() && svc.Identity != ""
	sni := ""
	if tls {
		r.meshClusters = append(r.meshClusters, svc.Name)
		sni = mesh.SNI(svc.Identity, svc.Datacenter)
	}
	deps, _ := depsKey(r.cat, svc.Name)
	key := fragmentKey("cluster", svc.Name, svc.ConnectTimeout.String(), limitsKey(limits), outlierKey(outlier), sni,
		r.frags.routesKey(r.cat, svc), strconv.FormatBool(mesh.NoPanicMode))
	if err := r.add(cdsType, key, deps, func() (types.Resource, error) {
		c := edsCluster(svc, limits, outlier)
		if mesh.NoPanicMode {
			c.CommonLbConfig = noPanic()
		}
		if tls {
			ts, err := upstreamMTLS(mesh, svc)
			if err != nil {
				return nil, fmt.Errorf("translating cluster %q: %w", svc.Name, err)
			}
			c.TransportSocket = ts
		}
		return c, nil
	}); err != nil {
		return err
	}
	deps, ver := depsKey(r.cat, append([]string{svc.Name}, svc.Failover...)...)
	return r.add(edsType, fragmentKey("endpoints", ver), deps, func() (types.Resource, error) {
		return loadAssignment(r.cat, svc), nil
	})
}

// addInbound adds the inbound listener and the local application cluster
// of svc's sidecar.
func (r *resources) addInbound(svc *discovery.Service) error {
	sc := svc.Sidecar
	deps, _ := depsKey(r.cat, svc.Name)
	mesh := r.cat.Mesh()
	mtls := mesh.Enabled()
	var authz *inboundAuthz
	authzKey := "-"
	if dest := svc.SidecarIdentity(); r.rbac && needsRBAC(mesh, dest) {
		authz, authzKey = &inboundAuthz{mesh: mesh, dest: dest}, r.cat.MeshVersion()+"/"+dest
	}
	key := fragmentKey("inbound", svc.Name, string(svc.Protocol), sc.InboundAddr, strconv.Itoa(sc.InboundPort),
		sc.LocalRequestTimeout.String(), strconv.FormatBool(mtls), authzKey)
	if err := r.add(ldsType, key, deps, func() (types.Resource, error) {
		l, err := inboundListener(sc, svc.Protocol, authz, mtls)
		if err != nil || !mtls {
			return l, err
		}
		if l.FilterChains[0].TransportSocket, err = downstreamMTLS(); err != nil {
			return nil, fmt.Errorf("translating listener %q: %w", InboundListener, err)
		}
		return l, nil
	}); err != nil {
		return err
	}
	key = fragmentKey("local_app", svc.Name, sc.LocalAddress, strconv.Itoa(sc.LocalPort), sc.LocalConnectTimeout.String())
	return r.add(cdsType, key, deps, func() (types.Resource, error) {
		return localAppCluster(sc), nil
	})
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
