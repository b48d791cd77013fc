package server

import (
	"context"
	"fmt"
	"log/slog"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/log"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
)

// callbacks logs stream lifecycles at Info and NACKs (requests that carry
// error_detail) at Warn, with the keys node, type, version and err, keeps
// m's stream, response, NACK and push latency metrics, and has s check
// every request's node against its Authorizer.
func callbacks(logger *slog.Logger, m *metrics, s *Server) serverv3.Callbacks {
	opened := func(kind string) func(ctx context.Context, id int64, typeURL string) error {
		return func(ctx context.Context, id int64, typeURL string) error {
			if s.authorizer() != nil {
				s.authStreams.open(ctx, id)
			}
			m.streams.WithLabelValues(kind).Inc()
			logger.LogAttrs(ctx, slog.LevelInfo, "xds stream opened",
				slog.Int64("stream", id), slog.String("type", typeURL))
			return nil
		}
	}
	closed := func(kind string) func(id int64, node *core.Node) {
		return func(id int64, node *core.Node) {
			s.authStreams.close(id)
			m.streams.WithLabelValues(kind).Dec()
			logger.LogAttrs(context.Background(), slog.LevelInfo, "xds stream closed",
				slog.Int64("stream", id), slog.String("node", node.GetId()))
		}
	}
	responded := func(node, typeURL string) {
		m.responses.WithLabelValues(typeURL).Inc()
		if d, ok := m.pending.sent(node, typeURL); ok {
			m.pushLatency.Observe(d.Seconds())
		}
	}
	return serverv3.CallbackFuncs{
		StreamOpenFunc:        opened("sotw"),
		DeltaStreamOpenFunc:   opened("delta"),
		StreamClosedFunc:      closed("sotw"),
		DeltaStreamClosedFunc: closed("delta"),
		StreamRequestFunc: func(id int64, req *discoverygrpc.DiscoveryRequest) error {
			if err := s.check(id, req.GetNode()); err != nil {
				return err
			}
			if d := req.GetErrorDetail(); d != nil {
				m.nacks.WithLabelValues(req.GetTypeUrl()).Inc()
				logNACK(logger, id, req.GetNode(), req.GetTypeUrl(), req.GetVersionInfo(), d.GetMessage())
			}
			return nil
		},
		StreamDeltaRequestFunc: func(id int64, req *discoverygrpc.DeltaDiscoveryRequest) error {
			if err := s.check(id, req.GetNode()); err != nil {
				return err
			}
			if d := req.GetErrorDetail(); d != nil {
				m.nacks.WithLabelValues(req.GetTypeUrl()).Inc()
				logNACK(logger, id, req.GetNode(), req.GetTypeUrl(), req.GetResponseNonce(), d.GetMessage())
			}
			return nil
		},
		StreamResponseFunc: func(_ context.Context, _ int64, req *discoverygrpc.DiscoveryRequest, resp *discoverygrpc.DiscoveryResponse) {
			responded(req.GetNode().GetId(), resp.GetTypeUrl())
		},
		StreamDeltaResponseFunc: func(_ int64, req *discoverygrpc.DeltaDiscoveryRequest, resp *discoverygrpc.DeltaDiscoveryResponse) {
			responded(req.GetNode().GetId(), resp.GetTypeUrl())
		},
	}
}

// logNACK logs a rejected response. For delta streams, which carry no
// version, version is the nonce of the rejected response.
func logNACK(logger *slog.Logger, stream int64, node *core.Node, typeURL, version, msg string) {
	logger.LogAttrs(context.Background(), slog.LevelWarn, "xds NACK",
		slog.Int64("stream", stream), slog.String("node", node.GetId()),
		slog.String("type", typeURL), slog.String("version", version), slog.String("err", msg))
}

// cpLogger adapts slog to go-control-plane's [log.Logger]. Its Info
// messages are internal chatter (stale nonces, new watches), so they go to
// Debug. Messages are formatted only when the level is enabled.
type cpLogger struct{ l *slog.Logger }

var _ log.Logger = cpLogger{}

func (c cpLogger) Debugf(format string, args ...any) { c.logf(slog.LevelDebug, format, args) }
func (c cpLogger) Infof(format string, args ...any)  { c.logf(slog.LevelDebug, format, args) }
func (c cpLogger) Warnf(format string, args ...any)  { c.logf(slog.LevelWarn, format, args) }
func (c cpLogger) Errorf(format string, args ...any) { c.logf(slog.LevelError, format, args) }

func (c cpLogger) logf(level slog.Level, format string, args []any) {
	ctx := context.Background()
	if !c.l.Enabled(ctx, level) {
		return
	}
	c.l.LogAttrs(ctx, level, fmt.Sprintf(format, args...))
}
