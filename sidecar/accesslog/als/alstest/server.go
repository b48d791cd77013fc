// Package alstest runs a real gRPC access log service for tests.
package alstest

import (
	"io"
	"net"
	"sync"
	"testing"

	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/grpc"
)

// Server is a real access log service that keeps the messages it gets.
type Server struct {
	alsv3.UnimplementedAccessLogServiceServer
	Addr string
	mu   sync.Mutex
	msgs []*alsv3.StreamAccessLogsMessage
}

// StartServer runs an access log service on a loopback port until the
// test ends.
func StartServer(t *testing.T) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String()}
	g := grpc.NewServer()
	alsv3.RegisterAccessLogServiceServer(g, s)
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.Serve(ln)
	}()
	t.Cleanup(func() {
		g.Stop()
		<-done
	})
	return s
}

// StreamAccessLogs implements the service.
func (s *Server) StreamAccessLogs(st alsv3.AccessLogService_StreamAccessLogsServer) error {
	for {
		m, err := st.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.msgs = append(s.msgs, m)
		s.mu.Unlock()
	}
}

// Messages returns the messages received so far.
func (s *Server) Messages() []*alsv3.StreamAccessLogsMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*alsv3.StreamAccessLogsMessage(nil), s.msgs...)
}
