// Command meshlb is the meshlb sidecar and control server.
//
//	meshlb sidecar   run the data plane (Envoy bootstrap file, or --xds)
//	meshlb control   run the control server (services.yaml)
//	meshlb demo      run a whole mesh on this machine
//	meshlb validate  check a services.yaml or an Envoy bootstrap file
//	meshlb wait-ready  wait until a sidecar's admin /ready answers 200
//	meshlb explain   say where a request or connection would go, and why
//
// Started with Envoy's command line instead (`meshlb --config-path f`, or
// as a binary named envoy), meshlb runs as Envoy would: see runEnvoy and
// docs/consul.md.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout io.Writer) error
}

var commands = []command{
	{"sidecar", "run the data plane", runSidecar},
	{"control", "run the control server", runControl},
	{"demo", "run a whole mesh on this machine", runDemo},
	{"validate", "check a services.yaml or an Envoy bootstrap file", runValidate},
	{"wait-ready", "wait until a sidecar's admin /ready answers 200", runWaitReady},
	{"explain", "say which listener, route, cluster and endpoint a request would take, and why", runExplain},
}

func main() {
	if isEnvoyInvocation(os.Args[0], os.Args[1:]) {
		os.Exit(run(command{name: "envoy", run: runEnvoy}, os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(mainArgs(os.Args[1:], os.Stdout, os.Stderr))
}

func mainArgs(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return 2
	}
	for _, c := range commands {
		if c.name == args[0] {
			return run(c, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "meshlb: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: meshlb <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
}

// newLogger returns a text logger on stderr at the named level.
func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	logLevel.Set(l)
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel})), nil
}

// run runs c with args until it returns or the process is signalled,
// and returns the exit status.
func run(c command, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := c.run(ctx, args, stdout); err != nil {
		fmt.Fprintf(stderr, "meshlb %s: %v\n", c.name, err)
		return 1
	}
	return 0
}
