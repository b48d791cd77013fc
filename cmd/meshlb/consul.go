package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
	"github.com/meshlb/meshlb/discovery/consul"
)

// consulFlags are the Consul flags of `meshlb control` and `meshlb sidecar`.
// Everything else (token, TLS, datacenter) comes from Consul's standard
// environment: CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_CACERT, ...
type consulFlags struct {
	enabled        bool
	addr           string
	warningHealthy bool
	plaintext      bool
}

func (c *consulFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.enabled, "consul", false, "discover services from Consul instead of a services.yaml")
	fs.StringVar(&c.addr, "consul-addr", "", "Consul HTTP address (default $CONSUL_HTTP_ADDR, else 127.0.0.1:8500)")
	fs.BoolVar(&c.warningHealthy, "consul-warning-healthy", true,
		"treat instances whose checks are warning as healthy (false: unhealthy)")
	fs.BoolVar(&c.plaintext, "consul-plaintext", false,
		"do not use Connect mTLS between sidecars (default: mTLS from Consul's Connect CA once it is known)")
}

// config returns the Consul client configuration: the environment's, with
// --consul-addr on top.
func (c *consulFlags) config() *api.Config {
	cfg := api.DefaultConfig()
	if c.addr != "" {
		cfg.Address = c.addr
	}
	return cfg
}

// source returns the Consul discovery source.
func (c *consulFlags) source(logger *slog.Logger) (discovery.Source, error) {
	warn := discovery.HealthHealthy
	if !c.warningHealthy {
		warn = discovery.HealthUnhealthy
	}
	return consul.New(consul.Options{Config: c.config(), WarningAs: warn, Plaintext: c.plaintext, Logger: logger})
}

// consulNodeID returns the xDS node id for `meshlb sidecar -sidecar-for` or
// `-proxy-id`, which exclude each other and --node-id. -sidecar-for looks
// the proxy up on the local agent, as `consul connect envoy -sidecar-for`
// does; with stateDir, an agent that cannot be reached falls back to the
// id recorded there by the last successful lookup ([lookupSidecar]).
// -proxy-id is checked there too, but an agent that cannot be reached
// only logs a warning, so that a sidecar with --state-dir still starts
// while Consul is down.
func consulNodeID(ctx context.Context, c *consulFlags, sidecarFor, proxyID, nodeID, stateDir string, logger *slog.Logger) (string, error) {
	if nodeID != "" || (sidecarFor != "" && proxyID != "") {
		return "", errors.New("-sidecar-for, -proxy-id and --node-id are exclusive")
	}
	client, err := api.NewClient(c.config())
	if err != nil {
		return "", fmt.Errorf("consul client: %w", err)
	}
	if sidecarFor != "" {
		return lookupSidecar(ctx, client, sidecarFor, stateDir, logger)
	}
	switch err := consul.CheckProxy(ctx, client, proxyID); {
	case err == nil:
	case errors.Is(err, consul.ErrNotProxy):
		return "", err
	default:
		logger.Warn("could not check -proxy-id on the Consul agent, using it as is", "err", err)
	}
	return proxyID, nil
}
