package client

import (
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// TestXDSStatus checks that XDSStatus reports the last ACKed version of a
// type, then a NACK with its version and error, and keeps that NACK, older
// than the ACK, once a later version is ACKed.
func TestXDSStatus(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := timeout(t)
			srv := newXDSServer(t)
			srv.set(t, "v1", base("10.0.0.1:80"))
			a := &fakeApplier{}
			c, _ := runClient(t, Options{Targets: []string{srv.addr}, Delta: m.delta}, a)
			srv.waitACK(ctx, t, resourcev3.ClusterType, "v1")
			st := clusterStatus(t, c)
			if st.ACKVersion != "v1" || st.ACKTime.IsZero() || !st.NACKTime.IsZero() {
				t.Fatalf("after v1: %+v, want ACK of v1 and no NACK", st)
			}

			bad := base("10.0.0.1:80")
			bad[resourcev3.ClusterType][0].(*clusterv3.Cluster).LbPolicy = clusterv3.Cluster_CLUSTER_PROVIDED
			srv.set(t, "v2", bad)
			if _, err := srv.reqs.wait(ctx, func(r request) bool { return r.typeURL == resourcev3.ClusterType && r.errDetail != "" }); err != nil {
				t.Fatalf("no NACK: %v", err)
			}
			st = clusterStatus(t, c)
			if st.ACKVersion != "v1" || st.NACKVersion != "v2" || !strings.Contains(st.NACKError, "lb_policy") || st.NACKTime.Before(st.ACKTime) {
				t.Fatalf("after a NACK of v2: %+v, want ACK v1 and a later NACK of v2 naming lb_policy", st)
			}

			srv.set(t, "v3", base("10.0.0.3:80"))
			srv.waitACK(ctx, t, resourcev3.ClusterType, "v3")
			st = clusterStatus(t, c)
			if st.ACKVersion != "v3" || st.NACKVersion != "v2" || !st.NACKTime.Before(st.ACKTime) {
				t.Errorf("after v3: %+v, want ACK v3 after the kept NACK of v2", st)
			}
		})
	}
}

func clusterStatus(t *testing.T, c *Client) TypeStatus {
	t.Helper()
	all := c.XDSStatus()
	if len(all) != int(numKinds) {
		t.Fatalf("XDSStatus has %d types, want %d", len(all), numKinds)
	}
	for _, s := range all {
		if s.TypeURL == resourcev3.ClusterType {
			return s
		}
	}
	t.Fatalf("XDSStatus has no %s: %+v", resourcev3.ClusterType, all)
	return TypeStatus{}
}
