package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/accesslog"
	"github.com/meshlb/meshlb/sidecar/admin"
	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/transport"
	"github.com/meshlb/meshlb/xds/client"
)

func runSidecar(ctx context.Context, args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("sidecar", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "Envoy v3 bootstrap file (YAML or JSON)")
	var xdsAddrs targetList
	fs.Var(&xdsAddrs, "xds", "control server address host:port, when there is no --config; repeat or separate with commas for replicas to fail over between")
	maxRecv := fs.Int("xds-max-recv-bytes", client.DefaultMaxRecvMsgSize, "largest xDS response accepted, in bytes")
	nodeID := fs.String("node-id", "", "xDS node id, when there is no --config (overrides the bootstrap's)")
	delta := fs.Bool("delta", false, "with --xds: use incremental xDS (DELTA_GRPC)")
	adminAddr := fs.String("admin", "", "admin listener address (overrides the bootstrap's)")
	stateDir := fs.String("state-dir", "", "directory to persist the last good configuration and endpoint health in")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	var sd shutdownTimes
	sd.register(fs)
	var cf consulFlags
	var xf xdsClientFlags
	xf.register(fs)
	sidecarFor := fs.String("sidecar-for", "", "take the node id from the connect-proxy registered for this service on the local Consul agent")
	proxyID := fs.String("proxy-id", "", "take the node id from this connect-proxy service id (checked on the local Consul agent)")
	fs.StringVar(&cf.addr, "consul-addr", "", "Consul HTTP address for -sidecar-for and -proxy-id (default $CONSUL_HTTP_ADDR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := newLogger(*level)
	if err != nil {
		return err
	}
	if *sidecarFor != "" || *proxyID != "" {
		if *nodeID, err = consulNodeID(ctx, &cf, *sidecarFor, *proxyID, *nodeID, *stateDir, logger); err != nil {
			return err
		}
	}
	b, err := loadBootstrap(*cfgPath, xdsAddrs, *nodeID, *delta)
	if err != nil {
		return err
	}
	if *adminAddr != "" {
		b.AdminAddress = *adminAddr
	}
	return serveSidecar(ctx, b, sidecarOpts{stateDir: *stateDir, maxRecv: *maxRecv, xds: xf}, sd, logger)
}

// sidecarOpts are the flags serveSidecar needs besides the bootstrap.
type sidecarOpts struct {
	stateDir string
	maxRecv  int            // xDS receive limit, bytes
	xds      xdsClientFlags // TLS and token for the control server
}

// targetList is a repeatable flag of control server addresses, each
// occurrence possibly a comma-separated list, checked as it is parsed.
type targetList []string

func (l *targetList) String() string { return strings.Join(*l, ",") }

func (l *targetList) Set(v string) error {
	for _, t := range strings.Split(v, ",") {
		t = strings.TrimSpace(t)
		if err := client.CheckTarget(t); err != nil {
			return err
		}
		*l = append(*l, t)
	}
	return nil
}

// loadBootstrap reads the bootstrap file, or builds one from flags.
func loadBootstrap(path string, xds []string, nodeID string, delta bool) (*config.Bootstrap, error) {
	var b *config.Bootstrap
	switch {
	case path != "":
		var err error
		if b, err = config.LoadBootstrap(path); err != nil {
			return nil, err
		}
	case len(xds) > 0:
		b = &config.Bootstrap{ADS: &config.ADS{Delta: delta, Targets: xds, LDS: true, CDS: true}}
	default:
		return nil, errors.New("one of --config or --xds is required")
	}
	if nodeID != "" {
		b.NodeID = nodeID
	}
	if b.ADS != nil && b.NodeID == "" {
		return nil, errors.New("an xDS node id is required: set node.id in the bootstrap or --node-id")
	}
	return b, nil
}

func serveSidecar(ctx context.Context, b *config.Bootstrap, o sidecarOpts, sd shutdownTimes, logger *slog.Logger) error {
	sc := sidecar.New(logger.With("component", "sidecar"))
	sc.SetNode(b.NodeID, b.NodeCluster)
	sc.SetZone(b.Locality, b.LocalCluster)
	if o.stateDir != "" {
		defer sc.KeepHAState(o.stateDir)() // last: after the drain
	}
	sc.LimitConnections(b.MaxDownstreamConnections)
	var c *client.Client
	ctx, quit := context.WithCancel(ctx) // POST /quitquitquit shuts down as SIGTERM does
	defer quit()
	adminOpts := []admin.Option{admin.WithNode(b.NodeID, b.NodeCluster), admin.WithLogLevel(logLevel), admin.WithQuit(quit), admin.WithDumpQuery(config.QueryDump),
		admin.WithDrainTime(sd.drain), admin.WithStatsTags(b.Stats)}
	adminOpts = append(adminOpts, admin.WithRecentAccessLog(accesslog.Recent))
	if b.ADS != nil {
		var err error
		if c, err = newADSClient(b, o, sc, logger); err != nil {
			sc.Close(0)
			return err
		}
		adminOpts = append(adminOpts, admin.WithControlPlane(c), admin.WithXDSStatus(xdsStatus(c)))
	}
	if b.AdminAddress != "" {
		h, closeLogs, err := adminAccessLog(admin.Handler(sc, adminOpts...), b.AdminAccessLogs)
		if err != nil {
			sc.Close(0)
			return err
		}
		defer closeLogs()
		stop, err := serveAdmin(b.AdminAddress, h, logger)
		if err != nil {
			sc.Close(0)
			return err
		}
		defer stop() // after the drain: /ready answers 503 throughout
	}
	defer sd.shutdown(sc, logger)
	if b.ADS == nil {
		if err := sc.Apply(&b.Static); err != nil {
			return fmt.Errorf("applying static resources: %w", err)
		}
		<-ctx.Done()
		return nil
	}
	return c.Run(ctx)
}

// serveAdmin starts the admin listener; stop shuts it down.
func serveAdmin(addr string, h http.Handler, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin listener stopped", "err", err)
		}
	}()
	logger.Info("admin listening", "address", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}

// newADSClient returns the ADS client of bootstrap b, with TLS to the
// control servers when the ADS cluster has a transport socket.
func newADSClient(b *config.Bootstrap, o sidecarOpts, a client.Applier, logger *slog.Logger) (*client.Client, error) {
	opts := client.Options{
		NodeID: b.NodeID, NodeCluster: b.NodeCluster, Targets: b.ADS.Targets, Delta: b.ADS.Delta,
		Static: &b.Static, StateDir: o.stateDir, MaxRecvMsgSize: o.maxRecv, Metadata: b.ADS.Metadata,
		Logger: logger, // the client adds component=xds-client
	}
	if b.ADS.TLS != nil {
		cfg, err := transport.ClientConfig(b.ADS.TLS)
		if err != nil {
			return nil, fmt.Errorf("TLS to the control server: %w", err)
		}
		opts.TLS = cfg
	}
	if err := o.xds.apply(&opts); err != nil {
		return nil, err
	}
	return client.New(opts, a), nil
}
