package httpfilter

import "github.com/meshlb/meshlb/sidecar/spec"

func init() {
	Register(passThrough(spec.GRPCHTTP1BridgeType))
}

// passThrough is the builder of a filter type meshlb accepts and does not
// run (Consul's grpc_http1_bridge, see spec.GRPCHTTP1BridgeType): it builds no filter,
// so the chain leaves it out and requests pass unchanged.
type passThrough string

func (p passThrough) TypeURL() string { return string(p) }

func (passThrough) Build(any, Env) (Filter, error) { return nil, nil }
