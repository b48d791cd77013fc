package admin

import (
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/stats"
)

// Dashboard pacing: frames go out every dashInterval; a frame is reused
// for dashReuse by every client that asks, so clients share one read of
// the stats; rates cover about dashWindow.
const (
	dashInterval = 500 * time.Millisecond
	dashReuse    = dashInterval / 2
	dashWindow   = 2 * time.Second
)

// dashboard builds the dashboard's frames and streams them. Its methods
// are safe for concurrent use; it starts no goroutine of its own (each
// event stream runs on its request's goroutine).
type dashboard struct {
	a      *admin
	xds    func() []XDSType // nil: no xDS client
	recent func(int) []string

	// maxClients bounds the open event streams; sendTimeout bounds the
	// write of one frame to one client, which is dropped past it.
	maxClients  int64
	sendTimeout time.Duration
	clients     atomic.Int64

	mu      sync.Mutex
	json    []byte    // the last frame
	builtAt time.Time // when json was built
	samples []*sample // oldest first: the window's base and newer
}

// init sets the dashboard's owner and the bounds tests have not set.
func (d *dashboard) init(a *admin) {
	d.a = a
	if d.maxClients == 0 {
		d.maxClients = 16
	}
	if d.sendTimeout == 0 {
		d.sendTimeout = 2 * time.Second
	}
}

// sample is the counters the dashboard's rates are computed from, read
// at one moment.
type sample struct {
	at       time.Time
	clusters map[string]clusterSample
}

type clusterSample struct {
	requests, responses, errors uint64
	rqTime                      stats.Snapshot
	endpoints                   map[string]uint64 // requests by address
}

func sampleCluster(cl *cluster.Cluster) clusterSample {
	s := cl.Stats
	c := s.StatusCounts.Classes()
	cs := clusterSample{requests: s.RqTotal.Load(), responses: c[0] + c[1] + c[2] + c[3] + c[4], errors: c[4],
		rqTime: s.RqTime.Read(), endpoints: make(map[string]uint64, len(cl.Endpoints))}
	for _, e := range cl.Endpoints[:min(len(cl.Endpoints), dashMaxEndpoints)] {
		cs.endpoints[e.Addr] = e.Requests.Load()
	}
	return cs
}

// since returns the counts of the window from prev to s.
func (s clusterSample) since(prev clusterSample) clusterSample {
	return clusterSample{requests: sub64(s.requests, prev.requests), responses: sub64(s.responses, prev.responses),
		errors: sub64(s.errors, prev.errors), rqTime: s.rqTime.Since(prev.rqTime)}
}

func sub64(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// current returns the frame of now as JSON: the last one if it is younger
// than dashReuse, else a new one.
func (d *dashboard) current(now time.Time) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.json != nil && now.Sub(d.builtAt) < dashReuse {
		return d.json
	}
	f, s := d.build(now, d.base(now))
	d.samples = append(d.samples, s)
	b, err := json.Marshal(f)
	if err != nil { // a NaN would do it; the page shows the error
		b, _ = json.Marshal(map[string]string{"error": "encoding the dashboard frame: " + err.Error()})
	}
	d.json, d.builtAt = b, now
	return b
}

// base returns the sample the rates of now are computed against: the
// newest one at least dashWindow old, else the oldest (nil if none). It
// drops the samples older than it, so at most about
// dashWindow/dashReuse+2 are kept.
func (d *dashboard) base(now time.Time) *sample {
	i := 0
	for j, s := range d.samples {
		if now.Sub(s.at) >= dashWindow {
			i = j
		}
	}
	d.samples = slices.Delete(d.samples, 0, i)
	if len(d.samples) == 0 {
		return nil
	}
	return d.samples[0]
}
