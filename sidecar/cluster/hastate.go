package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/meshlb/meshlb/internal/atomicfile"
)

// HAStateFile is the name of the persisted HA state in a state directory.
const HAStateFile = "ha-state.json"

// haFormat is the version of the HAStateFile layout.
const haFormat = 1

// restoreWindow bounds how long after [Registry.RestoreHA] the restored
// state seeds new verdicts: long enough for the first configuration to
// arrive, short enough that an endpoint added back much later starts
// afresh.
const restoreWindow = 2 * time.Minute

// HAState is what a sidecar knows about its endpoints' health that is
// worth keeping across a restart: per cluster and endpoint address the
// active health verdict and outlier ejection, and per address the
// latency estimate.
type HAState struct {
	Format   int                              `json:"format"`
	Clusters map[string]map[string]EndpointHA `json:"clusters,omitempty"`
	Latency  map[string]LatencyHA             `json:"latency,omitempty"`
}

// EndpointHA is one endpoint's state in one cluster.
type EndpointHA struct {
	// FailedActiveHC is the active health verdict, nil without a check.
	FailedActiveHC *bool `json:"failed_active_hc,omitempty"`
	// EjectedAt is when an ejected endpoint was ejected (UnixNano; 0: not
	// ejected), and Ejections the detector's count, which scales the
	// ejection time: the remaining time is computed from both.
	EjectedAt int64  `json:"ejected_at,omitempty"`
	Ejections uint32 `json:"ejections,omitempty"`
}

// LatencyHA is an address's peak-EWMA estimate.
type LatencyHA struct {
	CostNS float64 `json:"cost_ns"`
	At     int64   `json:"at"`
}

// SnapshotHA returns the HA state of every cluster and endpoint.
func (r *Registry) SnapshotHA() *HAState {
	out := &HAState{Format: haFormat, Clusters: map[string]map[string]EndpointHA{}, Latency: map[string]LatencyHA{}}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.m {
		if at := s.Latency.At(); at != 0 {
			out.Latency[s.Addr] = LatencyHA{CostNS: s.Latency.Cost(), At: at}
		}
	}
	for name, rt := range r.runtimes {
		if eps := rt.snapshotHA(); len(eps) > 0 {
			out.Clusters[name] = eps
		}
	}
	return out
}

// snapshotHA returns the runtime's endpoints' verdicts by address.
func (rt *Runtime) snapshotHA() map[string]EndpointHA {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := map[string]EndpointHA{}
	for s, h := range rt.h.active {
		e := out[s.Addr]
		failed := h.Failed()
		e.FailedActiveHC = &failed
		out[s.Addr] = e
	}
	for s, ej := range rt.h.ejections {
		if !ej.Ejected() {
			continue
		}
		e := out[s.Addr]
		at, n := ej.Recorded()
		if !at.IsZero() {
			e.EjectedAt, e.Ejections = at.UnixNano(), n
		}
		out[s.Addr] = e
	}
	return out
}

// RestoreHA makes s seed, for a while, the verdicts and estimates the
// registry creates: an endpoint known failing or ejected before a restart
// starts so (and one known healthy starts healthy, instead of failing
// until its first check), so no request goes to a backend known dead. It
// must be called before the first configuration is applied.
func (r *Registry) RestoreHA(s *HAState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.restored = s
	until := time.Now().Add(restoreWindow)
	for name, rt := range r.runtimes {
		r.restoreRuntimeUntil(name, rt, until)
	}
}

// restoreRuntime hands rt its cluster's restored state; r.mu is held.
func (r *Registry) restoreRuntime(name string, rt *Runtime) {
	r.restoreRuntimeUntil(name, rt, time.Now().Add(restoreWindow))
}

func (r *Registry) restoreRuntimeUntil(name string, rt *Runtime, until time.Time) {
	if r.restored == nil || r.restored.Clusters[name] == nil {
		return
	}
	rt.mu.Lock()
	rt.h.restored, rt.h.until = r.restored.Clusters[name], until
	rt.mu.Unlock()
}

// restoreLatency seeds s's estimate; r.mu is held.
func (r *Registry) restoreLatency(s *State) {
	if r.restored == nil {
		return
	}
	if l, ok := r.restored.Latency[s.Addr]; ok {
		s.Latency.Set(l.CostNS, l.At)
	}
}

// restored returns the restored state of the endpoint at addr; r.mu is
// held.
func (r *Runtime) restoredHA(addr string) (EndpointHA, bool) {
	if r.h.restored == nil || time.Now().After(r.h.until) {
		return EndpointHA{}, false
	}
	e, ok := r.h.restored[addr]
	return e, ok
}

// restoreActive seeds a new active health verdict; r.mu is held.
func (r *Runtime) restoreActive(s *State, h *ActiveHealth) {
	if e, ok := r.restoredHA(s.Addr); ok && e.FailedActiveHC != nil {
		h.failed.Store(*e.FailedActiveHC)
	}
}

// restoreEjection seeds a new ejection; r.mu is held.
func (r *Runtime) restoreEjection(s *State, ej *Ejection) {
	if e, ok := r.restoredHA(s.Addr); ok && e.EjectedAt != 0 {
		ej.ejected.Store(true)
		ej.Record(time.Unix(0, e.EjectedAt), max(e.Ejections, 1))
	}
}

// LoadHA reads the HA state persisted in dir, or returns nil if there is
// none.
func LoadHA(dir string) (*HAState, error) {
	data, err := os.ReadFile(filepath.Join(dir, HAStateFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading HA state: %w", err)
	}
	s := &HAState{}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("decoding HA state: %w", err)
	}
	if s.Format != haFormat {
		return nil, fmt.Errorf("decoding HA state: format %d, want %d", s.Format, haFormat)
	}
	return s, nil
}

// PersistHA writes the registry's HA state to dir every period, when it
// changed, until stop is closed, and once more then. It must run on one
// goroutine owned by the registry's user. Failures are logged.
func (r *Registry) PersistHA(stop <-chan struct{}, dir string, every time.Duration, logger *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	var last []byte
	write := func() {
		data, err := json.Marshal(r.SnapshotHA())
		if err == nil && bytes.Equal(data, last) {
			return
		}
		if err == nil {
			err = atomicfile.Write(filepath.Join(dir, HAStateFile), data)
		}
		if err != nil {
			logger.Warn("cannot persist HA state", "err", err)
			return
		}
		last = data
	}
	for {
		select {
		case <-stop:
			write()
			return
		case <-t.C:
			write()
		}
	}
}
