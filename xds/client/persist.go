package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/meshlb/meshlb/internal/atomicfile"
	"google.golang.org/protobuf/proto"
)

// stateFile is the name of the persisted state in [Options.StateDir].
const stateFile = "xds-state.json"

// stateFormat is the version of the stateFile layout.
const stateFormat = 1

// fileState is the layout of stateFile: JSON, with each resource a binary
// protobuf envoy.service.discovery.v3.Resource {name, version, resource},
// as the server sent it.
type fileState struct {
	Format int        `json:"format"`
	Types  []fileType `json:"types"`
}

// fileType holds the resources of one type: those ACKed and, for listeners
// and clusters, those active (they differ while a new version warms).
type fileType struct {
	TypeURL   string   `json:"type_url"`
	Version   string   `json:"version,omitempty"`
	Resources [][]byte `json:"resources,omitempty"`
	Active    [][]byte `json:"active,omitempty"`
}

// restore applies the persisted state, if Options.StateDir has one, so that
// a restarted sidecar serves before it reaches a control server. A state
// that cannot be read, decoded or applied is logged and ignored.
func (c *Client) restore() {
	if c.opts.StateDir == "" {
		return
	}
	s, err := readState(filepath.Join(c.opts.StateDir, stateFile))
	if err != nil {
		c.log.Warn("ignoring persisted xDS state", "err", err)
		return
	}
	if s == nil {
		return
	}
	if err := c.commit(s); err != nil {
		c.log.Warn("cannot apply persisted xDS state", "err", err)
		return
	}
	c.log.Info("applied persisted xDS state", "version", s.version[kindListener])
}

// save persists s, if Options.StateDir is set, off the apply path: s
// replaces any state still waiting to be written, and the writer started
// by [Client.startSaver] writes the latest one. Encoding and syncing
// 10,000 resources takes tens of milliseconds, which a one-endpoint update
// must not wait for (issue 8, point 9).
func (c *Client) save(s *state) {
	if c.saves == nil {
		return
	}
	for {
		select {
		case c.saves <- s:
			return
		default:
		}
		select {
		case <-c.saves: // replaced by s
		default:
		}
	}
}

// startSaver starts the goroutine that writes what save hands it, if
// Options.StateDir is set. stop ends it and writes the state still
// waiting, if any, so the latest applied state is on disk when Run
// returns.
func (c *Client) startSaver() (stop func()) {
	if c.opts.StateDir == "" {
		return func() {}
	}
	c.saves = make(chan *state, 1)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case s := <-c.saves:
				c.write(s)
			case <-done:
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		select {
		case s := <-c.saves:
			c.write(s)
		default:
		}
	}
}

// write persists s. A failure is logged: the data plane is serving s
// whether or not it could be saved.
func (c *Client) write(s *state) {
	data, err := encodeState(s)
	if err == nil {
		err = atomicfile.Write(filepath.Join(c.opts.StateDir, stateFile), data)
	}
	if err != nil {
		c.log.Warn("cannot persist xDS state", "err", err)
	}
}

func encodeState(s *state) ([]byte, error) {
	f := fileState{Format: stateFormat}
	for k := range numKinds {
		t := fileType{TypeURL: kinds[k].url, Version: s.version[k]}
		var err error
		if t.Resources, err = encodeResources(s.res[k]); err != nil {
			return nil, err
		}
		if t.Active, err = encodeResources(s.active[k]); err != nil {
			return nil, err
		}
		f.Types = append(f.Types, t)
	}
	return json.Marshal(f)
}

func encodeResources(m map[string]*resource) ([][]byte, error) {
	var out [][]byte
	for _, r := range sortedValues(m) {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(
			&discoveryv3.Resource{Name: r.name, Version: r.version, Resource: r.raw})
		if err != nil {
			return nil, fmt.Errorf("encoding %q: %w", r.name, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// readState loads a state written by [Client.save]; it returns nil, nil if
// there is no file.
func readState(path string) (*state, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f fileState
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	if f.Format != stateFormat {
		return nil, fmt.Errorf("%s: format %d, want %d", path, f.Format, stateFormat)
	}
	s := newState()
	for _, t := range f.Types {
		k, ok := kindOf(t.TypeURL)
		if !ok {
			return nil, fmt.Errorf("%s: unknown type %q", path, t.TypeURL)
		}
		if s.res[k], err = decodeResources(k, t.Resources, nil); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if s.active[k], err = decodeResources(k, t.Active, s.res[k]); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		s.version[k], s.seen[k] = t.Version, true
	}
	if !s.seen[kindListener] || !s.seen[kindCluster] {
		return nil, fmt.Errorf("%s: no listeners or clusters", path)
	}
	s.invalidate(kindListener) // a generation of their own (see buildCache)
	s.invalidate(kindCluster)
	return s, nil
}

// decodeResources decodes persisted resources of kind k, reusing the decoded
// form of those in prev with the same bytes.
func decodeResources(k kind, raw [][]byte, prev map[string]*resource) (map[string]*resource, error) {
	items := make([]item, len(raw))
	for i, b := range raw {
		r := new(discoveryv3.Resource)
		if err := proto.Unmarshal(b, r); err != nil {
			return nil, fmt.Errorf("%s %d: %w", kinds[k].label, i, err)
		}
		items[i] = item{a: r.GetResource(), name: r.GetName(), version: r.GetVersion()}
	}
	out, bad := decodeAll(k, items, prev)
	if len(bad) > 0 {
		return nil, nackError(bad)
	}
	return out, nil
}
