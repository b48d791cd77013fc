package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Defaults of the channel to a control server, used when [Options] leaves
// them zero.
const (
	// DefaultMaxRecvMsgSize bounds one xDS response. gRPC's own default,
	// 4 MiB, is about 136k endpoints; Envoy sets no limit.
	DefaultMaxRecvMsgSize = 1 << 30
	// DefaultKeepaliveTime and DefaultKeepaliveTimeout detect a control
	// server that stopped answering (a hung process, a dead host): after
	// DefaultKeepaliveTime without a frame from it the client pings, and
	// closes the connection if the ping is not answered within
	// DefaultKeepaliveTimeout. The control server permits pings every 5 s
	// (xds/server.Serve); grpc-go clamps Time to at least 10 s.
	DefaultKeepaliveTime    = 10 * time.Second
	DefaultKeepaliveTimeout = 5 * time.Second
	// DefaultResponseTimeout bounds the wait for a stream's first response,
	// Envoy's initial_fetch_timeout default.
	DefaultResponseTimeout = 15 * time.Second
)

// CheckTarget reports whether target is a control server address the
// client can dial: host:port with a non-empty host and a port in 1-65535.
func CheckTarget(target string) error {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return fmt.Errorf("invalid control server address %q: %w", target, err)
	}
	if host == "" {
		return fmt.Errorf("invalid control server address %q: missing host", target)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("invalid control server address %q: port must be 1-65535", target)
	}
	return nil
}

// dial returns a channel to target with the transport, keepalive and
// receive size limit of c's options. It does not connect.
func (c *Client) dial(target string) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if c.opts.TLS != nil {
		creds = credentials.NewTLS(c.opts.TLS)
	}
	return grpc.NewClient(target,
		grpc.WithTransportCredentials(creds),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time: c.opts.KeepaliveTime, Timeout: c.opts.KeepaliveTimeout,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(c.opts.MaxRecvMsgSize)),
	)
}

// ControlPlane reports the control server the client uses or tries, and
// whether its current stream is connected: the stream delivered a response
// and has not failed since. The address is empty before [Client.Run].
func (c *Client) ControlPlane() (address string, connected bool) {
	s := c.conn.Load()
	if s == nil {
		return "", false
	}
	return s.target, s.connected
}

// connState is what [Client.ControlPlane] reports.
type connState struct {
	target    string
	connected bool
}

// setConn records the stream state ControlPlane reports.
func (c *Client) setConn(target string, connected bool) {
	c.conn.Store(&connState{target: target, connected: connected})
}

// errNoResponse fails a stream whose server did not answer in time.
type errNoResponse time.Duration

func (e errNoResponse) Error() string {
	return fmt.Sprintf("no response from the control server within %s", time.Duration(e))
}

// watch returns a context for one stream and, with several targets, its
// watchdog: unless the watchdog is stopped (at the first response) within
// ResponseTimeout, it cancels the context with an [errNoResponse] cause. It
// covers connecting as well: gRPC waits up to 20 s for a server that
// accepted the TCP connection but never speaks HTTP/2, as a stopped process
// does. With one target there is nowhere to fail over to, and a server may
// rightly say nothing until it has a configuration for the node (ours
// until the node's service is registered), so the stream waits; wd is nil.
// cancel releases both.
func (c *Client) watch(ctx context.Context) (_ context.Context, wd *time.Timer, _ func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	if len(c.opts.Targets) < 2 {
		return ctx, nil, func() { cancel(nil) }
	}
	d := c.opts.ResponseTimeout
	wd = time.AfterFunc(d, func() { cancel(errNoResponse(d)) })
	return ctx, wd, func() {
		wd.Stop()
		cancel(nil)
	}
}

// streamErr returns the watchdog's error if it ended the stream, else err.
func streamErr(ctx context.Context, err error) error {
	var nr errNoResponse
	if errors.As(context.Cause(ctx), &nr) {
		return nr
	}
	return err
}

// logStreamDown logs why a stream to target ended. A response over the
// receive limit is an error that names the sizes: the stream would
// otherwise fail the same way on every reconnect with no NACK.
func (c *Client) logStreamDown(ctx context.Context, target string, err error) {
	if status.Code(err) == codes.ResourceExhausted {
		size, limit := oversize(status.Convert(err).Message())
		c.log.ErrorContext(ctx, "xDS response larger than the receive limit; raise the limit (sidecar --xds-max-recv-bytes)",
			"target", target, "size", size, "limit", c.opts.MaxRecvMsgSize, "grpc_limit", limit, "err", err)
		return
	}
	c.log.InfoContext(ctx, "ADS stream down", "target", target, "err", err)
}

// oversizeRE matches grpc-go's "received message larger than max (N vs. M)".
var oversizeRE = regexp.MustCompile(`larger than max \((\d+) vs\. (\d+)\)`)

// oversize extracts the message size and limit from a grpc-go
// ResourceExhausted message, or -1 for each one it does not find.
func oversize(msg string) (size, limit int64) {
	m := oversizeRE.FindStringSubmatch(msg)
	if m == nil {
		return -1, -1
	}
	size, _ = strconv.ParseInt(m[1], 10, 64)
	limit, _ = strconv.ParseInt(m[2], 10, 64)
	return size, limit
}

// withMetadata returns ctx carrying the options' Metadata, sent as the
// gRPC metadata of each stream (Envoy's initial_metadata).
func (c *Client) withMetadata(ctx context.Context) context.Context {
	if len(c.opts.Metadata) == 0 {
		return ctx
	}
	kv := make([]string, 0, 2*len(c.opts.Metadata))
	for _, h := range c.opts.Metadata {
		kv = append(kv, h.Key, h.Value)
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}
