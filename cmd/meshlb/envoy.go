package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/xds/client"
)

// envoyVersion is the Envoy version meshlb reports when run as Envoy. Tools
// that check it (`consul connect envoy` runs `--version` and takes the
// first x.y.z of the line) accept a range; 1.29 is in the range of the
// Consul 1.21 agent the integration tests build. MESHLB_ENVOY_VERSION
// overrides it for a Consul whose range differs (or use its
// -ignore-envoy-compatibility).
const envoyVersion = "1.29.12"

// isEnvoyInvocation reports whether meshlb was started with Envoy's
// command line rather than a meshlb command: under the name envoy, or
// with an Envoy flag first (`consul connect envoy -envoy-binary meshlb`
// runs `meshlb --version`, then `meshlb --config-path <fifo>
// --disable-hot-restart ...`).
func isEnvoyInvocation(argv0 string, args []string) bool {
	if filepath.Base(argv0) == "envoy" {
		return true
	}
	if len(args) == 0 || args[0] == "--help" {
		return false
	}
	a := args[0]
	return strings.HasPrefix(a, "--") || a == "-c" || a == "-l"
}

// envoyFlags are the Envoy command line flags meshlb understands.
type envoyFlags struct {
	version          bool
	configPath       string
	configYAML       string
	logLevel         string
	mode             string
	serviceNode      string
	serviceCluster   string
	stateDir         string
	sd               shutdownTimes
	ignoredFlagNames []string // accepted, no effect (logged)
}

// envoyIgnored are Envoy flags that change nothing meshlb does: hot
// restart (meshlb never shares memory between processes), logging format
// and destination knobs, and worker threads (Go schedules its own).
var envoyIgnored = []string{
	"disable-hot-restart", "restart-epoch", "base-id", "use-dynamic-base-id", "hot-restart-version",
	"concurrency", "component-log-level", "log-format", "log-format-escaped", "cpuset-threads",
	"v2-config-only", "allow-unknown-static-fields", "reject-unknown-dynamic-fields",
	"ignore-unknown-dynamic-fields", "local-address-ip-version", "file-flush-interval-msec",
	"service-zone", "enable-mutex-tracing", "disable-extensions", "enable-core-dump",
}

// envoyBoolFlags are the flags of envoyIgnored that take no value.
var envoyBoolFlags = map[string]bool{
	"disable-hot-restart": true, "use-dynamic-base-id": true, "hot-restart-version": true,
	"cpuset-threads": true, "v2-config-only": true, "allow-unknown-static-fields": true,
	"reject-unknown-dynamic-fields": true, "ignore-unknown-dynamic-fields": true,
	"log-format-escaped": true, "enable-mutex-tracing": true, "enable-core-dump": true,
}

func (f *envoyFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.version, "version", false, "print the Envoy version meshlb stands in for, and exit")
	fs.StringVar(&f.configPath, "config-path", "", "Envoy bootstrap (JSON or YAML; a file or a FIFO)")
	fs.StringVar(&f.configPath, "c", "", "short for --config-path")
	fs.StringVar(&f.configYAML, "config-yaml", "", "not supported: put everything in --config-path")
	fs.StringVar(&f.logLevel, "log-level", "info", "trace, debug, info, warning, error, critical or off")
	fs.StringVar(&f.logLevel, "l", "info", "short for --log-level")
	fs.StringVar(&f.mode, "mode", "serve", "serve, or validate the bootstrap and exit")
	fs.StringVar(&f.serviceNode, "service-node", "", "the node id (overrides node.id)")
	fs.StringVar(&f.serviceCluster, "service-cluster", "", "the node cluster (overrides node.cluster)")
	fs.StringVar(&f.stateDir, "state-dir", os.Getenv("MESHLB_STATE_DIR"),
		"meshlb's own flag: keep the last good configuration and the bootstrap here (default $MESHLB_STATE_DIR)")
	f.sd.register(fs)
	for _, name := range envoyIgnored {
		if envoyBoolFlags[name] {
			fs.BoolFunc(name, "accepted, no effect", func(string) error { f.ignore(name); return nil })
		} else {
			fs.Func(name, "accepted, no effect", func(string) error { f.ignore(name); return nil })
		}
	}
}

func (f *envoyFlags) ignore(name string) {
	if !strings.Contains(name, "hot-restart") && name != "v2-config-only" {
		f.ignoredFlagNames = append(f.ignoredFlagNames, name)
	}
}

// slogLevel maps Envoy's log levels onto slog's.
func slogLevel(envoy string) (string, error) {
	switch envoy {
	case "trace", "debug":
		return "debug", nil
	case "info":
		return "info", nil
	case "warning", "warn":
		return "warn", nil
	case "error", "critical", "off":
		return "error", nil
	}
	return "", fmt.Errorf("--log-level %q: want trace, debug, info, warning, error, critical or off", envoy)
}

// runEnvoy runs meshlb as Envoy would be run with args: it prints a
// version line, validates, or serves the bootstrap at --config-path as
// `meshlb sidecar --config` does.
func runEnvoy(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("envoy", flag.ContinueOnError)
	var f envoyFlags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if f.version {
		// Envoy's format: "envoy  version: <sha>/<version>/<status>/<build>/<ssl>".
		fmt.Fprintf(stdout, "\nenvoy  version: meshlb/%s/Clean/RELEASE/Go-crypto-tls\n\n", reportedEnvoyVersion())
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if f.configYAML != "" {
		return errors.New("--config-yaml is not supported: put the whole bootstrap in --config-path")
	}
	if f.configPath == "" {
		return errors.New("--config-path is required")
	}
	level, err := slogLevel(f.logLevel)
	if err != nil {
		return err
	}
	logger, err := newLogger(level)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(f.configPath) // once: it may be a FIFO
	if err != nil {
		return fmt.Errorf("loading bootstrap: %w", err)
	}
	b, err := config.ParseBootstrap(f.configPath, data)
	if err != nil {
		return err
	}
	if f.mode == "validate" {
		fmt.Fprintf(stdout, "configuration '%s' OK\n", f.configPath)
		return nil
	} else if f.mode != "serve" {
		return fmt.Errorf("--mode %q: only serve and validate are supported", f.mode)
	}
	if f.serviceNode != "" {
		b.NodeID = f.serviceNode
	}
	if f.serviceCluster != "" {
		b.NodeCluster = f.serviceCluster
	}
	if len(f.ignoredFlagNames) > 0 {
		logger.Info("Envoy flags accepted with no effect", "flags", f.ignoredFlagNames)
	}
	if f.stateDir != "" {
		if err := keepBootstrap(f.stateDir, data); err != nil {
			return err
		}
	}
	logger.Info("running as Envoy", "config_path", f.configPath, "node", b.NodeID, "state_dir", f.stateDir)
	return serveSidecar(ctx, b, sidecarOpts{stateDir: f.stateDir, maxRecv: client.DefaultMaxRecvMsgSize}, f.sd, logger)
}

// reportedEnvoyVersion is envoyVersion or $MESHLB_ENVOY_VERSION.
func reportedEnvoyVersion() string {
	if v := os.Getenv("MESHLB_ENVOY_VERSION"); v != "" {
		return v
	}
	return envoyVersion
}
