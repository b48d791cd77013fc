package sidecar

import (
	"os"
	"sync"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
)

// haPersistEvery is how often the HA state is written when it changed.
const haPersistEvery = time.Second

// KeepHAState restores the endpoints' health, ejections and latency
// estimates persisted in dir (issue 10: a restarted sidecar sends nothing
// to a backend it knew was dead) and persists them there every second
// while they change, until the returned stop is called, which writes them
// once more. It must be called before the first Apply. A state that
// cannot be read is logged and ignored.
func (s *Sidecar) KeepHAState(dir string) (stop func()) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		s.logger.Warn("cannot persist HA state", "err", err)
	}
	st, err := cluster.LoadHA(dir)
	switch {
	case err != nil:
		s.logger.Warn("ignoring persisted HA state", "err", err)
	case st != nil:
		s.registry.RestoreHA(st)
		s.logger.Info("restored persisted HA state", "clusters", len(st.Clusters))
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { s.registry.PersistHA(done, dir, haPersistEvery, s.logger) })
	return func() {
		close(done)
		wg.Wait()
	}
}
