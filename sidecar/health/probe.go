package health

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// maxReceive bounds what a TCP check reads looking for its payloads.
const maxReceive = 64 << 10

// check runs one check of st within the timeout: it dials through the
// endpoint's transport (TLS when the cluster uses TLS) and runs the HTTP
// TCP or gRPC exchange on a new connection.
func (c *Checker) check(ctx context.Context, st *cluster.State) result {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	if c.cfg.GRPC != nil {
		return c.checkGRPC(ctx, st)
	}
	conn, err := cluster.DialCheck(ctx, st)
	if err != nil {
		return network
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if c.cfg.HTTP != nil {
		return c.checkHTTP(conn)
	}
	return checkTCP(conn, c.cfg.TCP)
}

// httpRequest renders the HTTP/1.1 request of h. The connection closes
// after each check.
func httpRequest(h *spec.HTTPHealthCheck) []byte {
	var b bytes.Buffer
	b.WriteString(h.Method + " " + h.Path + " HTTP/1.1\r\nHost: " + h.Host + "\r\n")
	ua := true
	for _, hv := range h.Headers {
		if http.CanonicalHeaderKey(hv.Name) == "User-Agent" && hv.Overwrite {
			ua = false
		}
	}
	if ua {
		b.WriteString("User-Agent: Envoy/HC\r\n")
	}
	for _, hv := range h.Headers {
		b.WriteString(hv.Name + ": " + hv.Value + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	return b.Bytes()
}

func (c *Checker) checkHTTP(conn net.Conn) result {
	if _, err := conn.Write(c.req); err != nil {
		return network
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: c.cfg.HTTP.Method})
	if err != nil {
		return network
	}
	resp.Body.Close()
	return classify(c.cfg.HTTP, resp.StatusCode)
}

// classify judges an HTTP check's status.
func classify(h *spec.HTTPHealthCheck, code int) result {
	for _, r := range h.Expected {
		if r.Contains(code) {
			return pass
		}
	}
	for _, r := range h.Retriable {
		if r.Contains(code) {
			return retriable
		}
	}
	return fail
}

// checkTCP writes t.Send, if any, and reads until every t.Receive payload
// has arrived in order; the check passes on connect when there is nothing
// to receive.
func checkTCP(conn net.Conn, t *spec.TCPHealthCheck) result {
	if len(t.Send) > 0 {
		if _, err := conn.Write(t.Send); err != nil {
			return network
		}
	}
	if len(t.Receive) == 0 {
		return pass
	}
	var got []byte
	buf := make([]byte, 4096)
	for len(got) < maxReceive {
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		if matches(got, t.Receive) {
			return pass
		}
		if err != nil {
			return network
		}
	}
	return network
}

// matches reports whether every payload occurs in b, each after the
// previous one (Envoy's payload matching).
func matches(b []byte, payloads [][]byte) bool {
	for _, p := range payloads {
		i := bytes.Index(b, p)
		if i < 0 {
			return false
		}
		b = b[i+len(p):]
	}
	return true
}
