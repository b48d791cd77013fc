package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/meshlb/meshlb/discovery/file"
)

// chromiumBin finds Debian's chromium, or fails the test saying how to
// install it.
func chromiumBin(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: apt-get install chromium (.ci/run installs it)")
	return ""
}

// browser starts a headless chromium and returns its context: cancelled,
// and the browser stopped, when the test ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumBin(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.WindowSize(1280, 1100),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	return bctx
}

// waitDOM polls the page every 50 ms until the JavaScript expression cond
// is true, for up to bound, and returns how long it took.
func waitDOM(t *testing.T, ctx context.Context, bound time.Duration, what, cond string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return time.Since(start)
		}
		if time.Since(start) > bound {
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("timed out after %v waiting for %s (last error %v); the page shows:\n%s", bound, what, err, page)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// endpointRow is a JavaScript expression for the dashboard's row of an
// endpoint of a cluster.
func endpointRow(cluster, addr string) string {
	return fmt.Sprintf(`document.querySelector('tr[data-cluster=%q][data-address=%q]')`, cluster, addr)
}

// dashboardURL returns the dashboard URL `meshlb demo` printed for a
// sidecar.
func dashboardURL(t *testing.T, demoLog, sidecar string) string {
	t.Helper()
	re := regexp.MustCompile(`sidecar "` + regexp.QuoteMeta(sidecar) + `".*\n\s+dashboard (http://\S+)`)
	m := re.FindStringSubmatch(demoLog)
	if m == nil {
		t.Fatalf("meshlb demo printed no dashboard URL for sidecar %q:\n%s", sidecar, demoLog)
	}
	return m[1]
}

// traffic sends a GET to url every interval until the test ends.
func traffic(t *testing.T, url string, interval time.Duration) {
	stop, done := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		c := &http.Client{Timeout: time.Second}
		defer c.CloseIdleConnections()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				httpGet(c, url)
			}
		}
	}()
}

// TestDashboardInBrowser runs `meshlb demo` (fixed ports, as
// TestDemoIsMTLS) and opens the frontend sidecar's dashboard in a real
// headless chromium: it shows the demo's clusters and endpoints, shows an
// endpoint an operator disables as unhealthy within 2 s, and shows the
// NACK, with its message, of a configuration the sidecar cannot serve
// (an upstream moved to a port something else holds). It saves a
// screenshot in the test's artifact directory (go test -artifacts keeps
// it; make test does).
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	ctx := browser(t)
	services := filepath.Join(t.TempDir(), "services.yaml")
	writeFile(t, services, string(file.Default))
	demo := start(t, "demo", "demo", "--services", services, "--xds-addr", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	eventually(t, "the demo mesh to come up", func() bool { return strings.Contains(demo.log.String(), "mesh is up") })
	url := dashboardURL(t, demo.log.String(), "frontend")
	admin := strings.TrimSuffix(url, "/dashboard")
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("loading %s in chromium: %v", url, err)
	}

	for _, c := range []struct{ cluster, addr string }{{"web", "127.0.0.1:18301"}, {"echo", "127.0.0.1:18311"}} {
		row := endpointRow(c.cluster, c.addr)
		waitDOM(t, ctx, waitTimeout, fmt.Sprintf("cluster %s with endpoint %s, healthy", c.cluster, c.addr),
			row+` !== null && `+row+`.dataset.health === "healthy"`)
	}
	waitDOM(t, ctx, 5*time.Second, "the control plane shown connected", `document.getElementById("cp").dataset.connected === "true"`)
	traffic(t, "http://127.0.0.1:18401/hello", 20*time.Millisecond) // frontend → web
	waitDOM(t, ctx, 5*time.Second, "web's request rate", `document.querySelector('div.cluster[data-cluster="web"]').dataset.rps > 0`)

	resp, err := http.Post(admin+"/endpoint/disable?cluster=web&address=127.0.0.1:18301", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("disabling web's endpoint: %v %v", resp, err)
	}
	resp.Body.Close()
	row := endpointRow("web", "127.0.0.1:18301")
	took := waitDOM(t, ctx, 2*time.Second, "web's endpoint shown unhealthy",
		row+`.dataset.health.includes("admin_disabled") && `+row+`.classList.contains("unhealthy")`)
	t.Logf("the disabled endpoint showed unhealthy in %v", took.Round(time.Millisecond))

	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	port := strconv.Itoa(held.Addr().(*net.TCPAddr).Port)
	writeFile(t, services, strings.Replace(string(file.Default), "bind_port: 18401", "bind_port: "+port, 1))
	nack := `document.querySelector('tr[data-type="Listener"] td.nack-error')`
	took = waitDOM(t, ctx, waitTimeout, "the listener NACK and its message",
		nack+` !== null && `+nack+`.textContent.includes("127.0.0.1:`+port+`: bind: address already in use") && `+
			nack+`.closest("tr").classList.contains("nack")`)
	t.Logf("the NACK showed in %v after the services file changed", took.Round(time.Millisecond))

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(t.ArtifactDir(), "dashboard.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}
