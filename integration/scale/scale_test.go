package scale

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Bounds of the waits; generous, since the machine is shared.
const (
	syncTimeout   = 3 * time.Minute
	updateTimeout = time.Minute
	settle        = 300 * time.Millisecond // no response for this long: the push is over
)

// TestPushLatency opens one ADS stream per sidecar against a real control
// server, edits the port of one endpoint of the service every sidecar
// calls, and reports how long the streams took to get it: from the file
// write, and from the control server's "catalog changed" log line (so file
// detection and parsing are measured apart from translation and push). It
// fails if a stream does not get the edit within updateTimeout, or (for
// this tree's binary) if the edit is pushed as anything but one EDS
// response per stream.
//
// It runs once per layout of the services (MESHLB_SCALE_LAYOUTS, by
// default "file,dir"): file is one services.yaml, rewritten whole for the
// edit; dir is a services directory of perFile services per file, the
// layout documented for large meshes, where the edit rewrites one file.
func TestPushLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control process and many streams")
	}
	sz := sizeFromEnv(t)
	names := os.Getenv("MESHLB_SCALE_LAYOUTS")
	if names == "" {
		names = "file,dir"
	}
	for _, name := range strings.Split(names, ",") {
		t.Run(name, func(t *testing.T) {
			l, err := newLayout(name, sz, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			pushLatency(t, sz, l)
		})
	}
}

// layout is how the mesh is laid out on disk.
type layout struct {
	name  string
	path  string            // what the control server is given
	files map[string][]byte // the initial content, by path
	edit  map[string][]byte // what the edit writes, by path
}

// newLayout renders sz in dir as layout name, "file" or "dir".
func newLayout(name string, sz size, dir string) (*layout, error) {
	switch name {
	case "file":
		p := filepath.Join(dir, "services.yaml")
		return &layout{name: name, path: p, files: map[string][]byte{p: sz.yaml(portBefore)},
			edit: map[string][]byte{p: sz.yaml(portAfter)}}, nil
	case "dir":
		l := &layout{name: name, path: filepath.Join(dir, "services"), files: map[string][]byte{}}
		if err := os.Mkdir(l.path, 0o755); err != nil {
			return nil, err
		}
		for n, b := range sz.splitFiles(portBefore) {
			l.files[filepath.Join(l.path, n)] = b
		}
		first := splitName(0)
		l.edit = map[string][]byte{filepath.Join(l.path, first): sz.splitFiles(portAfter)[first]}
		return l, nil
	}
	return nil, fmt.Errorf("MESHLB_SCALE_LAYOUTS: unknown layout %q, want file or dir", name)
}

// write writes files, each atomically.
func write(t *testing.T, files map[string][]byte) {
	t.Helper()
	for p, b := range files {
		writeFile(t, p, b)
	}
}

// pushLatency runs the measurement of TestPushLatency on one layout.
func pushLatency(t *testing.T, sz size, l *layout) {
	write(t, l.files)
	ctl := startControl(t, l.path)
	admin := ""
	if hasAdmin(t) {
		admin = ctl.addr(t, "admin")
	}
	start := time.Now()
	xds := ctl.addr(t, "xDS")
	f := startFleet(xds, sz.sidecars())
	t.Cleanup(f.stop)
	waitAll(t, f, portBefore, syncTimeout)
	waitSettled(t, f)
	syncTime := time.Since(start)

	if admin != "" {
		// The first Update may still be finishing (recording its build
		// time) after its snapshots have reached every stream.
		poll(t, "control /ready", syncTimeout, func() bool {
			resp, err := http.Get("http://" + admin + "/ready")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	bytes0, types0 := f.totals()
	cpu0 := ctl.cpu(t)
	build0 := ctl.stat(t, admin, "meshlb_control_snapshot_build_seconds_sum")
	var profiled sync.WaitGroup
	if out := os.Getenv("MESHLB_SCALE_PROFILE"); out != "" && admin != "" {
		profiled.Go(func() {
			if err := profile(admin, 3*time.Second, out+"."+l.name); err != nil {
				t.Errorf("profiling: %v", err)
			}
		})
	}
	load := loadAverage()
	t0 := time.Now()
	write(t, l.edit)
	waitAll(t, f, portAfter, updateTimeout)
	waitSettled(t, f)
	cpu := ctl.cpu(t) - cpu0
	build := ctl.stat(t, admin, "meshlb_control_snapshot_build_seconds_sum") - build0
	profiled.Wait()
	bytes1, types1 := f.totals()
	rss, peak := ctl.memory(t)

	r := report{size: sz, layout: l.name, files: len(l.files), sync: syncTime, cpu: cpu,
		bytes: bytes1 - bytes0, rss: rss, peak: peak, load: load,
		build: time.Duration(build * float64(time.Second))}
	for i := range types1 {
		r.responses[i] = types1[i] - types0[i]
	}
	r.fromWrite = latencies(f, t0)
	// The first catalog after the write carries the edit; more than one
	// means the source published twice for one write.
	changed, applied := ctl.logTimes("catalog changed", t0), ctl.logTimes("applied catalog", t0)
	r.catalogs = len(applied)
	if len(changed) > 0 {
		r.detect = changed[0].Sub(t0)
		r.fromPublish = latencies(f, changed[0])
	}
	if len(applied) > 0 {
		r.applied = applied[0].Sub(t0)
	}
	if os.Getenv("MESHLB_SCALE_BIN") == "" && r.responses != [4]int64{0, int64(sz.Streams), 0, 0} {
		t.Errorf("responses CDS/EDS/LDS/RDS for one endpoint edit = %v, want EDS only, one per stream", r.responses)
	}
	// Every sidecar reconnects at once, as after a replica failover.
	f.stop()
	start = time.Now()
	again := startFleet(xds, sz.sidecars())
	t.Cleanup(again.stop)
	waitAll(t, again, portAfter, syncTimeout)
	r.resync = time.Since(start)
	r.goroutines = ctl.goroutines(t)
	t.Log("\n" + r.String())
	if out := os.Getenv("MESHLB_SCALE_REPORT"); out != "" {
		appendFile(t, out, r.String()+"\n")
	}
}

// waitAll waits until every sidecar sees popular's first endpoint on port.
func waitAll(t *testing.T, f *fleet, port int, d time.Duration) {
	t.Helper()
	var err error
	n := 0
	poll(t, fmt.Sprintf("all %d streams to see port %d", len(f.sidecars), port), d, func() bool {
		n, err = f.count(port)
		return err != nil || n == len(f.sidecars)
	})
	if err != nil {
		t.Fatalf("%d of %d streams saw port %d, then: %v", n, len(f.sidecars), port, err)
	}
}

// waitSettled waits until no response has arrived for settle.
func waitSettled(t *testing.T, f *fleet) {
	t.Helper()
	last, _ := f.totals()
	since := time.Now()
	poll(t, "the streams to settle", updateTimeout, func() bool {
		b, _ := f.totals()
		if b != last {
			last, since = b, time.Now()
		}
		return time.Since(since) >= settle
	})
}

// latencies returns, sorted, how long after from each sidecar saw the edit.
func latencies(f *fleet, from time.Time) []time.Duration {
	out := make([]time.Duration, 0, len(f.sidecars))
	for _, s := range f.sidecars {
		out = append(out, time.Unix(0, s.changed.Load()).Sub(from))
	}
	slices.Sort(out)
	return out
}

// report is the outcome of one run.
type report struct {
	size            size
	layout          string        // file or dir
	files           int           // services files
	sync            time.Duration // all streams opened and synced
	resync          time.Duration // all streams reopened and synced
	detect, applied time.Duration // write → "catalog changed", "applied catalog" log lines
	fromWrite       []time.Duration
	fromPublish     []time.Duration
	catalogs        int           // catalogs applied after the write
	build           time.Duration // control: translate and publish snapshots (its stats)
	cpu             time.Duration // control CPU from write to settled
	bytes           int64         // response bytes received for the edit
	responses       [4]int64      // responses per type for the edit
	rss, peak       float64       // MiB
	load            string        // the machine's load averages at the edit
	goroutines      int
}

func (r report) String() string {
	var b strings.Builder
	s := r.size
	fmt.Fprintf(&b, "scale: %d services x %d endpoints, %d streams (half delta), %d upstreams each; layout %s (%d files)\n",
		s.Services, s.Endpoints, s.Streams, s.Upstreams, r.layout, r.files)
	fmt.Fprintf(&b, "  initial sync of all streams: %v\n", r.sync.Round(time.Millisecond))
	fmt.Fprintf(&b, "  write -> catalog changed: %v, -> applied: %v (%d catalogs applied)\n",
		r.detect.Round(time.Millisecond), r.applied.Round(time.Millisecond), r.catalogs)
	fmt.Fprintf(&b, "  snapshot build (translate + publish): %v\n", r.build.Round(time.Millisecond))
	fmt.Fprintf(&b, "  edit seen, from write:   %s\n", pcts(r.fromWrite))
	fmt.Fprintf(&b, "  edit seen, from publish: %s\n", pcts(r.fromPublish))
	fmt.Fprintf(&b, "  bytes for the edit: %.2f MB; responses CDS/EDS/LDS/RDS: %d/%d/%d/%d\n",
		float64(r.bytes)/1e6, r.responses[0], r.responses[1], r.responses[2], r.responses[3])
	fmt.Fprintf(&b, "  control CPU for the edit: %v; RSS %.0f MiB (peak %.0f); machine load %s\n", r.cpu, r.rss, r.peak, r.load)
	fmt.Fprintf(&b, "  all streams reconnected and synced in %v\n", r.resync.Round(time.Millisecond))
	fmt.Fprintf(&b, "  control goroutines: %d (%.1f per stream)", r.goroutines, float64(r.goroutines)/float64(s.Streams))
	return b.String()
}

// pcts formats the p50, p99 and max of sorted durations.
func pcts(d []time.Duration) string {
	if len(d) == 0 {
		return "n/a"
	}
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))].Round(time.Millisecond) }
	return fmt.Sprintf("p50 %v  p99 %v  max %v", at(0.50), at(0.99), d[len(d)-1].Round(time.Millisecond))
}

// writeFile replaces path's content atomically, as editors do.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// loadAverage returns the machine's 1, 5 and 15 minute load averages, for
// reading figures taken on a shared machine; "?" if they are unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}
