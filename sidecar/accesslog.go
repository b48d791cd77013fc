package sidecar

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/meshlb/meshlb/sidecar/accesslog"
	"github.com/meshlb/meshlb/sidecar/accesslog/als"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// SetNode names the node that gRPC access log streams identify
// themselves as (the bootstrap's node id and cluster). It must be called
// before the first Apply.
func (s *Sidecar) SetNode(id, nodeCluster string) { s.nodeID, s.nodeCluster = id, nodeCluster }

// openGRPCLog opens the client of an http_grpc or tcp_grpc access log.
func (s *Sidecar) openGRPCLog(l *spec.GRPCAccessLog, tcp bool) (accesslog.GRPCLogger, error) {
	return als.New(l, tcp, als.Config{NodeID: s.nodeID, NodeCluster: s.nodeCluster, Dial: s.dialCluster,
		Logger: s.logger.With("component", "access-log"), Counter: s.stats.counter})
}

// dialCluster connects to an endpoint of the named cluster of the
// configuration in force, as the cluster's balancer picks it and over
// its transport.
func (s *Sidecar) dialCluster(ctx context.Context, name string) (net.Conn, error) {
	snap := s.current.Load()
	var cl *cluster.Cluster
	if snap != nil {
		cl = snap.Clusters[name]
	}
	if cl == nil {
		return nil, fmt.Errorf("cluster %q does not exist", name)
	}
	pk := cl.Pick(0)
	if pk.Endpoint == nil {
		return nil, fmt.Errorf("cluster %q has no healthy endpoint", name)
	}
	deadline, _ := ctx.Deadline()
	if deadline.IsZero() {
		deadline = time.Now().Add(cl.ConnectTimeout)
	}
	c, err := cl.Dial(pk.Endpoint, deadline)
	if err != nil {
		pk.Done(cluster.Outcome{Failure: cluster.ConnectFailure})
		return nil, fmt.Errorf("connecting to cluster %q: %w", name, err)
	}
	pk.Done(cluster.Outcome{})
	return c, nil
}
