// Package client is the sidecar's xDS client: it keeps one Aggregated
// Discovery Service stream to a control server, turns the Envoy v3
// resources it receives into a [config.Set] and hands that to an [Applier].
//
// It follows Envoy's and grpc-go's xDS clients: each resource of a response
// is decoded and validated on its own; the good ones are applied and the bad
// ones are NACKed with an error naming each of them and its field, sorted,
// while a bad resource's previous version, if any, stays in force. A
// response the data plane cannot serve as a whole (Apply fails) changes
// nothing. The data plane only sees a cluster once its endpoints have
// arrived and a listener once its route configuration has (warming). See
// https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// Applier installs a complete configuration in the data plane.
//
// Apply returns an error when the Set cannot be served (for example a
// listener cannot bind); the client then NACKs the response that led to it
// and keeps its last good configuration, which the data plane must still be
// serving. Apply is called from one goroutine at a time and must not keep a
// reference to the Set beyond treating it as immutable.
type Applier interface {
	Apply(*config.Set) error
}

// Default backoff bounds, used when [Options] leaves them zero.
const (
	DefaultBackoffBase = 100 * time.Millisecond
	DefaultBackoffMax  = 10 * time.Second
	// DefaultInitialFetchTimeout is Envoy's initial_fetch_timeout default.
	DefaultInitialFetchTimeout = 15 * time.Second
)

// Options configures a [Client].
type Options struct {
	// NodeID and NodeCluster identify the sidecar to the control server
	// (Envoy's node.id and node.cluster).
	NodeID, NodeCluster string
	// Targets are the control server addresses (host:port). The client
	// connects to the first and moves to the next after a failed attempt.
	Targets []string
	// Delta selects incremental xDS (DeltaAggregatedResources, Envoy's
	// DELTA_GRPC) instead of state-of-the-world (GRPC).
	Delta bool
	// Static holds the bootstrap's static resources, may be nil. Dynamic
	// listeners and clusters replace static ones of the same name. Static is
	// not modified.
	Static *config.Set
	// StateDir, if set, is where the client persists the last applied
	// resources (file xds-state.json) and loads them from at start.
	StateDir string
	// Logger receives stream and NACK events; nil means slog.Default().
	Logger *slog.Logger
	// InitialFetchTimeout bounds the wait for the first configuration: the
	// first Apply waits until listeners and clusters have arrived and none
	// is warming, or this long after Run starts. Zero means
	// DefaultInitialFetchTimeout, Envoy's default.
	InitialFetchTimeout time.Duration
	// BackoffBase and BackoffMax bound the reconnect delay: attempt n waits a
	// random duration in (0, min(BackoffMax, BackoffBase*2^n)] (full
	// jitter). Zero means DefaultBackoffBase and DefaultBackoffMax. The same
	// bounds pace a NACK of a response the server sends again unchanged.
	BackoffBase, BackoffMax time.Duration
	// MaxRecvMsgSize bounds the size of one response; zero means
	// DefaultMaxRecvMsgSize. A larger response fails the stream, and the
	// client logs an error with both sizes.
	MaxRecvMsgSize int
	// KeepaliveTime and KeepaliveTimeout are the gRPC keepalive of the
	// channel (see DefaultKeepaliveTime); zero means the defaults.
	KeepaliveTime, KeepaliveTimeout time.Duration
	// ResponseTimeout bounds the wait for the first response on each
	// stream when there are several targets: a stream that gets none in
	// time is closed and the client moves to the next target. Zero means
	// DefaultResponseTimeout.
	ResponseTimeout time.Duration
	// TLS, when set, secures the connection to the control servers
	// (gRPC adds "h2" to its NextProtos); nil means plaintext.
	TLS *tls.Config
	// Metadata is sent as gRPC metadata on every stream (Envoy's
	// initial_metadata), e.g. Consul's x-consul-token. Keys must be
	// lower case.
	Metadata []spec.Header
}

// Client is an ADS client. Create it with [New] and start it with
// [Client.Run]. Its methods are safe for concurrent use.
type Client struct {
	opts    Options
	applier Applier
	log     *slog.Logger
	static  *config.Set
	ready   chan struct{}
	conn    atomic.Pointer[connState] // see ControlPlane
	status  statusBoard               // see XDSStatus

	// Owned by the Run goroutine.
	cur     *state // last good state: ACKed resources, active versions
	applied bool   // Apply succeeded at least once; ready is closed
	fp      []any  // fingerprint of the last applied Set
	built   buildCache
	// initDeadline ends the wait for a complete first configuration (see
	// initDone); zero while the persisted state is restored.
	initDeadline time.Time
	// saves holds the applied state waiting to be persisted (see save).
	saves chan *state
}

// New returns a client that applies configuration to a. It does not connect
// until [Client.Run].
func New(opts Options, a Applier) *Client {
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = DefaultBackoffBase
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = DefaultBackoffMax
	}
	if opts.InitialFetchTimeout <= 0 {
		opts.InitialFetchTimeout = DefaultInitialFetchTimeout
	}
	opts.MaxRecvMsgSize = orDefault(opts.MaxRecvMsgSize, DefaultMaxRecvMsgSize)
	opts.KeepaliveTime = orDefault(opts.KeepaliveTime, DefaultKeepaliveTime)
	opts.KeepaliveTimeout = orDefault(opts.KeepaliveTimeout, DefaultKeepaliveTimeout)
	opts.ResponseTimeout = orDefault(opts.ResponseTimeout, DefaultResponseTimeout)
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	static := opts.Static
	if static == nil {
		static = &config.Set{}
	}
	return &Client{
		opts:    opts,
		applier: a,
		log:     opts.Logger.With("component", "xds-client"),
		static:  static,
		ready:   make(chan struct{}),
		cur:     newState(),
	}
}

// Ready returns a channel closed after the first successful Apply, whether
// from the control server or from the persisted state.
func (c *Client) Ready() <-chan struct{} { return c.ready }

// Run applies the persisted state, if any, then keeps an ADS stream to the
// control servers until ctx is done, reconnecting with exponential backoff
// and full jitter. Whenever a stream fails (the server closed it, its
// keepalive pings went unanswered, or, with several targets, it sent no
// response within ResponseTimeout) the client moves to the next target, as Envoy picks
// another host of a multi-endpoint ADS cluster; the backoff is reset after a
// stream that delivered a response. Run returns nil once ctx is done and
// every goroutine it started has exited; it returns an error, before
// connecting, if there are no targets or one is invalid (see [CheckTarget]).
// Run must be called at most once.
func (c *Client) Run(ctx context.Context) error {
	if len(c.opts.Targets) == 0 {
		return errors.New("xds client: no control server targets")
	}
	for _, t := range c.opts.Targets {
		if err := CheckTarget(t); err != nil {
			return fmt.Errorf("xds client: %w", err)
		}
	}
	defer c.startSaver()()
	c.restore()
	c.initDeadline = time.Now().Add(c.opts.InitialFetchTimeout)
	b := backoff{base: c.opts.BackoffBase, max: c.opts.BackoffMax}
	for i := 0; ; i++ {
		target := c.opts.Targets[i%len(c.opts.Targets)]
		c.setConn(target, false)
		responded, err := c.runTarget(ctx, target)
		c.setConn(target, false)
		if ctx.Err() != nil {
			return nil
		}
		c.logStreamDown(ctx, target, err)
		if responded {
			b.reset()
		}
		if !sleep(ctx, b.next()) {
			return nil
		}
	}
}

// runTarget runs one ADS stream to target until it fails or ctx is done. It
// reports whether the server sent at least one response.
func (c *Client) runTarget(ctx context.Context, target string) (bool, error) {
	conn, err := c.dial(target)
	if err != nil {
		return false, fmt.Errorf("creating channel: %w", err)
	}
	defer conn.Close()
	return c.runStream(ctx, conn, target)
}

// orDefault returns v, or def if v is not positive.
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// sleep waits d or until ctx is done, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
