package health

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/meshlb/meshlb/sidecar/cluster"
)

// grpcServing is grpc.health.v1.HealthCheckResponse.ServingStatus SERVING.
const grpcServing = 1

// maxGRPCResponse bounds the health response read.
const maxGRPCResponse = 4 << 10

// grpcRequest renders the length-prefixed grpc.health.v1.HealthCheckRequest
// for service (field 1, a string), by hand so the data plane links no
// protobuf.
func grpcRequest(service string) []byte {
	msg := []byte{}
	if service != "" {
		msg = append(msg, 0x0a)
		msg = binary.AppendUvarint(msg, uint64(len(service)))
		msg = append(msg, service...)
	}
	out := []byte{0}
	out = binary.BigEndian.AppendUint32(out, uint32(len(msg)))
	return append(out, msg...)
}

// checkGRPC calls grpc.health.v1.Health/Check on a new HTTP/2 connection
// (prior knowledge) made through the endpoint's transport. No connection,
// a reset or the timeout is a network failure; any other answer than
// grpc-status 0 with SERVING fails at once, as in Envoy.
func (c *Checker) checkGRPC(ctx context.Context, st *cluster.State) result {
	g := c.cfg.GRPC
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	tr := &http.Transport{
		Protocols:         &protos,
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return cluster.DialCheck(ctx, st)
		},
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+st.Addr+"/grpc.health.v1.Health/Check", bytes.NewReader(c.req))
	if err != nil {
		return fail
	}
	req.Host = g.Authority
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	req.Header.Set("User-Agent", "Envoy/HC")
	for _, h := range g.Metadata {
		req.Header.Add(h.Name, h.Value)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return network
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxGRPCResponse))
	if err != nil {
		return network
	}
	return grpcVerdict(resp, body)
}

// grpcVerdict judges a health answer: HTTP 200, grpc-status 0 (in the
// trailers, or the headers of a trailers-only answer) and SERVING.
func grpcVerdict(resp *http.Response, body []byte) result {
	status := resp.Trailer.Get("Grpc-Status")
	if status == "" {
		status = resp.Header.Get("Grpc-Status")
	}
	if resp.StatusCode != http.StatusOK || status != "0" {
		return fail
	}
	s, err := servingStatus(body)
	if err != nil || s != grpcServing {
		return fail
	}
	return pass
}

// servingStatus decodes the one length-prefixed, uncompressed
// HealthCheckResponse in body and returns its status (field 1, an enum;
// 0, UNKNOWN, when absent).
func servingStatus(body []byte) (uint64, error) {
	if len(body) < 5 || body[0] != 0 {
		return 0, errors.New("not one uncompressed gRPC message")
	}
	n := binary.BigEndian.Uint32(body[1:5])
	msg := body[5:]
	if uint32(len(msg)) != n {
		return 0, errors.New("truncated gRPC message")
	}
	var status uint64
	for len(msg) > 0 {
		tag, k := binary.Uvarint(msg)
		if k <= 0 {
			return 0, errors.New("bad field tag")
		}
		msg = msg[k:]
		switch tag & 7 {
		case 0: // varint
			v, k := binary.Uvarint(msg)
			if k <= 0 {
				return 0, errors.New("bad varint")
			}
			msg = msg[k:]
			if tag>>3 == 1 {
				status = v
			}
		case 2: // length-delimited
			l, k := binary.Uvarint(msg)
			if k <= 0 || uint64(len(msg)-k) < l {
				return 0, errors.New("bad length")
			}
			msg = msg[k+int(l):]
		default:
			return 0, errors.New("unexpected wire type")
		}
	}
	return status, nil
}
