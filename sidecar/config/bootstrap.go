package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"
)

// The extension types a bootstrap may hold in a typed_config are
// registered for protojson by the packages this package imports to decode
// them: tcp_proxy and http_connection_manager (listener.go, http.go),
// router (http.go), and upstreams.http HttpProtocolOptions (ads.go).

var (
	bootstrapFields = allow(&bootstrapv3.Bootstrap{}, "node", "admin", "static_resources", "dynamic_resources",
		"overload_manager", "stats_config", "layered_runtime", "stats_flush_interval", "cluster_manager")
	// cluster_manager.local_cluster_name turns zone-aware routing on.
	clusterManagerFields = allow(&bootstrapv3.ClusterManager{}, "local_cluster_name")
	nodeFields           = allow(&corev3.Node{},
		"id", "cluster", "metadata", "locality", "user_agent_name", "user_agent_version", "user_agent_build_version")
	adminFields  = allow(&bootstrapv3.Admin{}, "address", "access_log", "access_log_path")
	staticFields = allow(&bootstrapv3.Bootstrap_StaticResources{}, "listeners", "clusters")
)

// LoadBootstrap reads the bootstrap file at path and parses it with
// [ParseBootstrap].
func LoadBootstrap(path string) (*Bootstrap, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading bootstrap: %w", err)
	}
	return ParseBootstrap(path, data)
}

// ParseBootstrap decodes an Envoy v3 bootstrap in YAML or JSON: node,
// admin.address, static_resources (listeners and clusters, decoded as by
// [DecodeListener] and [DecodeCluster]) and dynamic_resources over ADS.
// name is the file name used in errors, which read
//
//	envoy.yaml:23: static_resources.clusters[0]: cluster "be": lb_policy: MAGLEV is not supported
//
// with the line of the offending field when it can be found. The returned
// Static set carries its /config_dump rendering in Dump. ParseBootstrap is
// safe for concurrent use and never panics on bad input.
func ParseBootstrap(name string, data []byte) (*Bootstrap, error) {
	b := &bootstrapv3.Bootstrap{}
	if err := unmarshalBootstrap(name, data, b); err != nil {
		return nil, err
	}
	out, err := decodeBootstrap(b)
	if err != nil {
		if line := yamlLine(data, parsePath(errorPath(err))); line > 0 {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// unmarshalBootstrap parses data, JSON or else YAML, into b, accepting
// the forms Envoy accepts beyond protojson's (see [envoyLenient]).
func unmarshalBootstrap(name string, data []byte, b *bootstrapv3.Bootstrap) error {
	js, isJSON := data, json.Valid(data)
	if !isJSON {
		var err error
		if js, err = yaml.YAMLToJSON(data); err != nil {
			return yamlError(name, err)
		}
	}
	if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return fmt.Errorf("%s: empty bootstrap", name)
	}
	js, lenient := envoyLenient(js, b.ProtoReflect().Descriptor())
	if err := protojson.Unmarshal(js, b); err != nil {
		// A rewritten document's positions are found by path in data.
		return protojsonError(name, data, js, isJSON && !lenient, err)
	}
	return nil
}

// decodeBootstrap decodes a parsed bootstrap. Listeners and clusters are
// decoded first, so that their errors name them.
func decodeBootstrap(b *bootstrapv3.Bootstrap) (*Bootstrap, error) {
	if err := bootstrapFields.check(b); err != nil {
		return nil, err
	}
	if err := nodeFields.check(b.GetNode()); err != nil {
		return nil, within("node", err)
	}
	if err := adminFields.check(b.GetAdmin()); err != nil {
		return nil, within("admin", err)
	}
	static, err := decodeStatic(b.GetStaticResources(), adsClusterName(b))
	if err != nil {
		return nil, within("static_resources", err)
	}
	if err := validate(b); err != nil {
		return nil, err
	}
	if err := localityName.check(b.GetNode().GetLocality()); err != nil {
		return nil, within("node.locality", err)
	}
	if err := clusterManagerFields.check(b.GetClusterManager()); err != nil {
		return nil, within("cluster_manager", err)
	}
	out := &Bootstrap{NodeID: b.GetNode().GetId(), NodeCluster: b.GetNode().GetCluster(), Static: static,
		Locality: localityKey(b.GetNode().GetLocality()), LocalCluster: b.GetClusterManager().GetLocalClusterName()}
	if a := b.GetAdmin().GetAddress(); a != nil {
		if out.AdminAddress, err = decodeAddress(a, true); err != nil {
			return nil, within("admin.address", err)
		}
	}
	if out.ADS, err = decodeDynamic(b.GetDynamicResources(), &out.Static); err != nil {
		return nil, within("dynamic_resources", err)
	}
	if out.MaxDownstreamConnections, err = decodeOverload(b.GetOverloadManager()); err != nil {
		return nil, within("overload_manager", err)
	}
	if err := decodeExtras(b, out); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeExtras decodes the admin access logs, stats_config and
// layered_runtime into out.
func decodeExtras(b *bootstrapv3.Bootstrap, out *Bootstrap) error {
	var err error
	if out.AdminAccessLogs, err = decodeAdminLogs(b.GetAdmin()); err != nil {
		return within("admin", err)
	}
	if out.Stats, err = decodeStatsConfig(b.GetStatsConfig()); err != nil {
		return within("stats_config", err)
	}
	if out.Runtime, err = decodeRuntime(b.GetLayeredRuntime()); err != nil {
		return within("layered_runtime", err)
	}
	return nil
}

// decodeStatic decodes static_resources into a Set with its config dump.
// The cluster named adsCluster holds the control servers.
func decodeStatic(sr *bootstrapv3.Bootstrap_StaticResources, adsCluster string) (Set, error) {
	if err := staticFields.check(sr); err != nil {
		return Set{}, err
	}
	var set Set
	var err error
	if set.Listeners, err = decodeStaticListeners(sr.GetListeners()); err != nil {
		return Set{}, err
	}
	if set.Clusters, err = decodeStaticClusters(sr.GetClusters(), adsCluster); err != nil {
		return Set{}, err
	}
	if set.Dump, err = dump(true, sr.GetListeners(), nil, sr.GetClusters(), nil); err != nil {
		return Set{}, errorf("", "rendering config dump: %v", err)
	}
	return set, nil
}

func decodeStaticListeners(ls []*listenerv3.Listener) ([]Listener, error) {
	out := make([]Listener, 0, len(ls))
	seen := make(map[string]bool)
	for i, pl := range ls {
		l, err := DecodeListener(pl)
		if err != nil {
			return nil, within(index("listeners", i), err)
		}
		if seen[l.Name] {
			return nil, errorf(index("listeners", i)+".name", "duplicate listener name %q", l.Name)
		}
		seen[l.Name] = true
		out = append(out, *l)
	}
	return out, nil
}

func decodeStaticClusters(cs []*clusterv3.Cluster, adsCluster string) ([]Cluster, error) {
	out := make([]Cluster, 0, len(cs))
	seen := make(map[string]bool)
	for i, pc := range cs {
		c, err := decodeStaticCluster(pc, pc.GetName() == adsCluster)
		if err != nil {
			return nil, within(index("clusters", i), err)
		}
		if seen[c.Name] {
			return nil, errorf(index("clusters", i)+".name", "duplicate cluster name %q", c.Name)
		}
		seen[c.Name] = true
		out = append(out, *c)
	}
	return out, nil
}

// decodeStaticCluster decodes a static cluster, accepting on the ADS
// cluster the HTTP/2 options Envoy needs there.
func decodeStaticCluster(c *clusterv3.Cluster, ads bool) (*Cluster, error) {
	if !ads {
		return DecodeCluster(c)
	}
	stripped, err := controlPlaneCluster(c)
	if err != nil {
		return nil, &resourceError{kind: "cluster", name: c.GetName(), err: err}
	}
	return DecodeCluster(stripped)
}
