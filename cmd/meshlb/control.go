package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"

	"github.com/meshlb/meshlb/discovery"
	"github.com/meshlb/meshlb/discovery/file"
	"github.com/meshlb/meshlb/xds/server"
)

func runControl(ctx context.Context, args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("control", flag.ContinueOnError)
	services := fs.String("services", "", "services.yaml, or a directory of *.yaml files, to serve (default: the embedded demo mesh)")
	maxBytes := fs.Int64("services-max-bytes", file.DefaultMaxBytes, "largest total size of the services files, in bytes")
	addr := fs.String("xds-addr", "127.0.0.1:18000", "address for the xDS gRPC server")
	admin := fs.String("admin", "", "address for the admin HTTP server (/ready, /stats, /stats/prometheus, /debug/pprof); empty: none")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	var cc controlConfig
	cc.register(fs)
	var cf consulFlags
	cf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := newLogger(*level)
	if err != nil {
		return err
	}
	src := servicesSource(*services, *maxBytes, logger)
	if cf.enabled {
		if *services != "" {
			return errors.New("--services and --consul are exclusive")
		}
		if src, err = cf.source(logger); err != nil {
			return err
		}
	}
	if *admin == "" {
		return serveControl(ctx, *addr, src, cc, logger)
	}
	adminLis, err := net.Listen("tcp", *admin)
	if err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	logger.Info("admin server listening", "address", adminLis.Addr().String())
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		adminLis.Close()
		return fmt.Errorf("xds listener: %w", err)
	}
	logger.Info("xDS server listening", "address", lis.Addr().String())
	return runControlOn(ctx, lis, adminLis, src, cc, logger)
}

// servicesSource watches path, a file or a directory whose files total at
// most maxBytes (0: file.DefaultMaxBytes), or serves the embedded default
// mesh.
func servicesSource(path string, maxBytes int64, logger *slog.Logger) discovery.Source {
	if path == "" {
		return file.NewStatic("default services.yaml", file.Default)
	}
	src := file.New(path, logger.With("component", "file-discovery"))
	src.MaxBytes = maxBytes
	return src
}

// serveControl runs the control server until ctx is done.
func serveControl(ctx context.Context, addr string, src discovery.Source, cc controlConfig, logger *slog.Logger) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("xds listener: %w", err)
	}
	logger.Info("xDS server listening", "address", lis.Addr().String())
	return runControlOn(ctx, lis, nil, src, cc, logger)
}

// runControlOn serves xDS on lis, and the admin endpoints on admin unless
// it is nil, from src until ctx is done or any of them fails; it returns
// the first error.
func runControlOn(ctx context.Context, lis, admin net.Listener, src discovery.Source, cc controlConfig, logger *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := server.New(logger)
	srv.EnforceIntentions(!cc.intentionsOff)
	auth, err := cc.xds.authorizer(src)
	if err != nil {
		closeAll(lis, admin)
		return err
	}
	if auth != nil {
		srv.SetAuthorizer(auth)
	}
	grpcOpts, err := cc.xds.serverOptions()
	if err != nil {
		closeAll(lis, admin)
		return err
	}
	var adminErr error
	var wg sync.WaitGroup
	if admin != nil {
		h, err := controlAdmin(srv, src)
		if err != nil {
			admin.Close()
			return err
		}
		wg.Go(func() {
			adminErr = serveControlAdmin(ctx, admin, h)
			cancel()
		})
	}
	runErr := make(chan error, 1)
	go func() {
		err := srv.Run(ctx, src)
		cancel()
		runErr <- err
	}()
	serveErr := server.Serve(ctx, lis, srv, grpcOpts...)
	cancel()
	wg.Wait()
	return errors.Join(<-runErr, serveErr, adminErr)
}

// controlConfig holds the flags of `meshlb control` that shape what the
// xDS server serves. Its zero value is the secure default: intentions
// enforced.
type controlConfig struct {
	intentionsOff bool // --enforce-intentions=false
	xds           xdsServerFlags
}

func (c *controlConfig) register(fs *flag.FlagSet) {
	fs.BoolFunc("enforce-intentions", "enforce intentions on mTLS public listeners with RBAC filters; callers no "+
		"intention matches get the default Consul decides (default true; =false lets every mesh identity call "+
		"every service, for sidecars without RBAC filters)",
		func(v string) error {
			on, err := strconv.ParseBool(v)
			c.intentionsOff = !on
			return err
		})
	c.xds.register(fs)
}

// closeAll closes the listeners that are not nil.
func closeAll(ls ...net.Listener) {
	for _, l := range ls {
		if l != nil {
			l.Close()
		}
	}
}
