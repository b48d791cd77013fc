package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/meshlb/meshlb/discovery"
	"github.com/meshlb/meshlb/discovery/file"
)

// demoAdminBase is the first sidecar admin port; sidecars take consecutive
// ports in catalog order.
const demoAdminBase = 19000

func runDemo(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	services := fs.String("services", "", "services.yaml (default: the embedded demo mesh)")
	xdsAddr := fs.String("xds-addr", "127.0.0.1:18000", "address for the control server")
	level := fs.String("log-level", "warn", "log level of the control server and sidecars")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := newLogger(*level)
	if err != nil {
		return err
	}
	data, name := file.Default, "default services.yaml"
	if *services != "" {
		if data, err = os.ReadFile(*services); err != nil {
			return err
		}
		name = *services
	}
	cat, err := file.Parse(name, data)
	if err != nil {
		return err
	}
	return demo(ctx, cat, servicesSource(*services, 0, logger), *xdsAddr, *level, logger, stdout)
}

func demo(ctx context.Context, cat *discovery.Catalog, src discovery.Source, xdsAddr, level string, logger *slog.Logger, out io.Writer) error {
	var bk backends
	defer bk.close()
	if err := startBackends(&bk, cat); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ctlErr := make(chan error, 1)
	go func() {
		ctlErr <- serveControl(ctx, xdsAddr, src, controlConfig{}, logger.With("component", "control"))
	}()
	procs, err := startSidecars(ctx, cat, xdsAddr, level)
	defer stopAll(procs)
	if err != nil {
		return err
	}
	if err := waitReady(ctx, cat); err != nil {
		return err
	}
	printGuide(out, cat)
	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "\nstopping the demo mesh")
		return nil
	case err := <-ctlErr:
		return fmt.Errorf("control server: %w", err)
	}
}

// startBackends starts an application for every endpoint of cat; a
// service reached through its sidecar (in an mTLS mesh) gets one, on its
// sidecar's local address and port.
func startBackends(bk *backends, cat *discovery.Catalog) error {
	for _, s := range cat.Services() {
		addrs := make([]string, 0, len(s.Endpoints))
		if sc := s.Sidecar; s.Identity != "" && sc.LocalPort != 0 {
			addrs = append(addrs, net.JoinHostPort(sc.LocalAddress, strconv.Itoa(sc.LocalPort)))
		} else {
			for _, e := range s.Endpoints {
				addrs = append(addrs, e.HostPort())
			}
		}
		for _, addr := range addrs {
			var err error
			if s.Protocol == discovery.ProtocolHTTP {
				err = bk.http(s.Name, addr)
			} else {
				err = bk.echo(s.Name, addr)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// startSidecars runs one `meshlb sidecar` process per sidecar in cat.
func startSidecars(ctx context.Context, cat *discovery.Catalog, xdsAddr, level string) ([]*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var procs []*exec.Cmd
	for i, s := range cat.Sidecars() {
		cmd := exec.Command(self, "sidecar", "--xds", xdsAddr, "--node-id", s.Sidecar.ID,
			"--admin", fmt.Sprintf("127.0.0.1:%d", demoAdminBase+i), "--log-level", level)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			return procs, fmt.Errorf("starting sidecar %s: %w", s.Sidecar.ID, err)
		}
		procs = append(procs, cmd)
	}
	return procs, nil
}

func stopAll(procs []*exec.Cmd) {
	for _, p := range procs {
		p.Process.Signal(os.Interrupt)
	}
	for _, p := range procs {
		p.Wait()
	}
}

// waitReady polls every sidecar's /ready until all are configured.
func waitReady(ctx context.Context, cat *discovery.Catalog) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for i := range cat.Sidecars() {
		url := fmt.Sprintf("http://127.0.0.1:%d/ready", demoAdminBase+i)
		for !isReady(url) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("sidecar at %s did not become ready: %w", url, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func isReady(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// printGuide shows what runs and a few commands to try, and sends a few
// requests through each HTTP upstream to show traffic flowing.
func printGuide(out io.Writer, cat *discovery.Catalog) {
	fmt.Fprintln(out, "meshlb demo mesh is up. Ctrl-C stops it.")
	if m := cat.Mesh(); m.Enabled() {
		fmt.Fprintf(out, "mTLS between sidecars, trust domain %s (certificates from a CA the control server made)\n", m.TrustDomain)
	}
	for i, s := range cat.Sidecars() {
		fmt.Fprintf(out, "\nsidecar %q (admin http://127.0.0.1:%d/clusters)\n", s.Sidecar.ID, demoAdminBase+i)
		fmt.Fprintf(out, "  dashboard http://127.0.0.1:%d/dashboard\n", demoAdminBase+i)
		for _, u := range s.Sidecar.Upstreams {
			up, _ := cat.Service(u.Service)
			addr := net.JoinHostPort(u.BindAddress, fmt.Sprint(u.BindPort))
			if up.Protocol == discovery.ProtocolHTTP {
				fmt.Fprintf(out, "  upstream %-8s curl http://%s/hello\n", u.Service, addr)
				showTraffic(out, "http://"+addr+"/hello", len(up.Endpoints))
			} else {
				fmt.Fprintf(out, "  upstream %-8s nc %s %d\n", u.Service, u.BindAddress, u.BindPort)
			}
		}
	}
}

func showTraffic(out io.Writer, url string, n int) {
	for range n {
		resp, err := http.Get(url)
		if err != nil {
			fmt.Fprintf(out, "    -> %v\n", err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(out, "    -> %d %s\n", resp.StatusCode, strings.TrimSpace(string(body)))
	}
}
