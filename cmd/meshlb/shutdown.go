package main

import (
	"errors"
	"flag"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/meshlb/meshlb/sidecar"
)

// Envoy's defaults for --drain-time-s and --parent-shutdown-time-s.
const (
	defaultDrainTime      = 600 * time.Second
	defaultParentShutdown = 900 * time.Second
)

// shutdownTimes bound how a stopping sidecar drains, as Envoy's flags of
// the same names.
type shutdownTimes struct {
	drain  time.Duration // listeners stop accepting; requests may finish
	parent time.Duration // hard bound on exit, from the start of shutdown
}

// register adds --drain-time-s and --parent-shutdown-time-s to fs.
func (s *shutdownTimes) register(fs *flag.FlagSet) {
	fs.Func("drain-time-s", "seconds a stopping sidecar lets in-flight requests finish before it closes their connections (Envoy's default 600)",
		seconds(&s.drain))
	fs.Func("parent-shutdown-time-s", "seconds after which a stopping sidecar exits whatever is still in flight (Envoy's default 900)",
		seconds(&s.parent))
	s.drain, s.parent = defaultDrainTime, defaultParentShutdown
}

// seconds parses a whole number of seconds into *d, as Envoy's flags take.
func seconds(d *time.Duration) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return errors.New("want a whole number of seconds")
		}
		*d = time.Duration(n) * time.Second
		return nil
	}
}

// shutdown drains sc: /ready turns 503 and listeners stop accepting at
// once, requests in flight get up to s.drain to finish, and the process
// exits (status 1) if all that is not over after s.parent, even with a
// request stuck on a hung backend.
func (s shutdownTimes) shutdown(sc *sidecar.Sidecar, logger *slog.Logger) {
	hard := time.AfterFunc(s.parent, func() {
		logger.Error("shutdown took longer than --parent-shutdown-time-s; exiting", "parent_shutdown", s.parent)
		os.Exit(1)
	})
	defer hard.Stop()
	logger.Info("draining", "drain_time", s.drain)
	sc.Close(s.drain)
}
