// Package als is the client of Envoy's gRPC access log service
// (envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs): the
// http_grpc and tcp_grpc access loggers. Like xds/client, it is the edge
// where protobuf meets the data plane: the request path hands it plain
// [accesslog.Entry] values through a bounded queue, and its goroutine
// builds the messages and streams them, reconnecting with backoff.
package als

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/meshlb/meshlb/sidecar/accesslog"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// queueLen bounds the entries a client holds before it drops.
const queueLen = 4096

// Defaults of CommonGrpcAccessLogConfig, as Envoy's.
const (
	defaultFlush  = time.Second
	defaultBuffer = 16384
)

// Dialer connects to an endpoint of the named cluster.
type Dialer func(ctx context.Context, cluster string) (net.Conn, error)

// Config is what a client needs besides its access log's spec.
type Config struct {
	// Node identifies the sidecar in each stream's first message.
	NodeID, NodeCluster string
	Dial                Dialer
	Logger              *slog.Logger
	// Counter returns a sidecar counter by name
	// (access_logs.grpc_access_log.logs_written and logs_dropped).
	Counter accesslog.Counter
}

// Client streams one access log's entries to its service. Safe for
// concurrent use.
type Client struct {
	l      spec.GRPCAccessLog
	tcp    bool
	cfg    Config
	queue  chan *accesslog.Entry
	cancel context.CancelFunc
	done   chan struct{}
	conn   *grpc.ClientConn
	// Dropped counts entries dropped (queue full, or sent on a stream
	// that failed), Written those the stream took.
	Dropped, Written atomic.Uint64
	dropped, written *atomic.Uint64
}

var _ accesslog.GRPCLogger = (*Client)(nil)

// New starts a client for l (tcp: tcp_grpc entries).
func New(l *spec.GRPCAccessLog, tcp bool, cfg Config) (*Client, error) {
	conn, err := grpc.NewClient("passthrough:///"+l.Cluster,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return cfg.Dial(ctx, l.Cluster) }))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{l: *l, tcp: tcp, cfg: cfg, queue: make(chan *accesslog.Entry, queueLen), cancel: cancel,
		done: make(chan struct{}), conn: conn,
		dropped: cfg.Counter("access_logs.grpc_access_log.logs_dropped"),
		written: cfg.Counter("access_logs.grpc_access_log.logs_written")}
	if c.l.FlushInterval <= 0 {
		c.l.FlushInterval = defaultFlush
	}
	if c.l.BufferSize == 0 {
		c.l.BufferSize = defaultBuffer
	}
	go c.run(ctx)
	return c, nil
}

// Write implements [accesslog.GRPCLogger]: it queues e, or drops and
// counts it when the queue is full. It never blocks.
func (c *Client) Write(e *accesslog.Entry) {
	select {
	case c.queue <- e:
	default:
		c.drop(1)
		accesslog.PutEntry(e)
	}
}

func (c *Client) drop(n int) {
	c.Dropped.Add(uint64(n))
	c.dropped.Add(uint64(n))
}

// Close implements [accesslog.GRPCLogger]: it stops the stream, without
// sending what is queued, and waits for the client's goroutine.
func (c *Client) Close() {
	c.cancel()
	<-c.done
	c.conn.Close()
}

// run keeps a stream open and sends batches on it until ctx ends.
func (c *Client) run(ctx context.Context) {
	defer close(c.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if err := c.stream(ctx); err != nil && ctx.Err() == nil {
			c.cfg.Logger.Warn("access log stream failed", "cluster", c.l.Cluster, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// stream opens a stream and sends batches until it fails or ctx ends.
// The first message carries the identifier.
func (c *Client) stream(ctx context.Context) error {
	var first *accesslog.Entry
	select { // open a stream only once there is something to send
	case first = <-c.queue:
	case <-ctx.Done():
		return nil
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := alsv3.NewAccessLogServiceClient(c.conn).StreamAccessLogs(sctx)
	if err != nil {
		c.drop(1)
		accesslog.PutEntry(first)
		return err
	}
	id := &alsv3.StreamAccessLogsMessage_Identifier{LogName: c.l.LogName,
		Node: &corev3.Node{Id: c.cfg.NodeID, Cluster: c.cfg.NodeCluster}}
	var b batch
	b.add(first, c.tcp)
	for {
		if err := c.fill(ctx, &b); err != nil {
			return nil // closing
		}
		msg := b.message(c.tcp)
		msg.Identifier = id
		n := b.n
		b.reset()
		if err := st.Send(msg); err != nil {
			c.drop(n)
			return err
		}
		id = nil
		c.Written.Add(uint64(n))
		c.written.Add(uint64(n))
	}
}

// fill adds queued entries to b until it holds BufferSize bytes or the
// flush interval has passed since its first entry; it returns ctx's
// error when ctx ends.
func (c *Client) fill(ctx context.Context, b *batch) error {
	if b.n == 0 {
		select {
		case e := <-c.queue:
			b.add(e, c.tcp)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	flush := time.NewTimer(c.l.FlushInterval)
	defer flush.Stop()
	for b.size < int(c.l.BufferSize) {
		select {
		case e := <-c.queue:
			b.add(e, c.tcp)
		case <-flush.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
