package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"

	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery/consul"
	"github.com/meshlb/meshlb/internal/atomicfile"
)

// What meshlb keeps in --state-dir besides the xDS client's state, so
// that a sidecar started while the Consul agent is down still serves its
// last good configuration (issue 12).
const (
	// sidecarForFile records the proxy id `meshlb sidecar -sidecar-for`
	// was given by the agent.
	sidecarForFile = "sidecar-for.json"
	// bootstrapFile is the last bootstrap meshlb was started with in
	// Envoy's command line (under `consul connect envoy`, the one Consul
	// wrote into the FIFO). It holds the ACL token: mode 0600.
	bootstrapFile = "bootstrap.json"
)

// sidecarForRecord is the layout of sidecarForFile.
type sidecarForRecord struct {
	Service string `json:"service"`
	ProxyID string `json:"proxy_id"`
}

// lookupSidecar resolves -sidecar-for service on the agent, as `consul
// connect envoy -sidecar-for` does. With stateDir, the answer is recorded
// there, and when the agent cannot be reached (no HTTP answer at all) the
// id recorded for the same service is used instead, with a warning. An
// answer from the agent (an ACL denial, no proxy, several) is never
// overridden.
func lookupSidecar(ctx context.Context, client *api.Client, service, stateDir string, logger *slog.Logger) (string, error) {
	id, err := consul.LookupSidecar(ctx, client, service)
	if err == nil {
		if stateDir != "" {
			if werr := saveSidecarFor(stateDir, sidecarForRecord{Service: service, ProxyID: id}); werr != nil {
				logger.Warn("cannot record the -sidecar-for proxy id in --state-dir", "err", werr)
			}
		}
		return id, nil
	}
	if stateDir == "" || !agentUnreachable(err) {
		return "", err
	}
	rec, rerr := loadSidecarFor(stateDir)
	if rerr != nil || rec.Service != service {
		return "", fmt.Errorf("%w (and --state-dir holds no proxy id for %q)", err, service)
	}
	logger.Warn("Consul agent unreachable: using the proxy id recorded in --state-dir",
		"proxy", rec.ProxyID, "service", service, "err", err)
	return rec.ProxyID, nil
}

// agentUnreachable reports whether err is a failed HTTP exchange with the
// agent (refused, reset, timed out), not an answer from it.
func agentUnreachable(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue)
}

func saveSidecarFor(dir string, rec sidecarForRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, sidecarForFile), data)
}

func loadSidecarFor(dir string) (sidecarForRecord, error) {
	var rec sidecarForRecord
	data, err := os.ReadFile(filepath.Join(dir, sidecarForFile))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, fmt.Errorf("reading %s: %w", sidecarForFile, err)
	}
	return rec, nil
}

// keepBootstrap writes data, a bootstrap meshlb accepted, to
// dir/bootstrap.json, so that it can be started again from it while the
// agent (which `consul connect envoy` needs) is down.
func keepBootstrap(dir string, data []byte) error {
	if err := atomicfile.Write(filepath.Join(dir, bootstrapFile), data); err != nil {
		return fmt.Errorf("keeping the bootstrap in --state-dir: %w", err)
	}
	return nil
}
