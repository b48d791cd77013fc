package als

import (
	"net/netip"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	datav3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/meshlb/meshlb/sidecar/accesslog"
	"github.com/meshlb/meshlb/sidecar/format"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// batch is the entries of one message, converted as they are added.
type batch struct {
	http []*datav3.HTTPAccessLogEntry
	tcp  []*datav3.TCPAccessLogEntry
	n    int
	size int // an estimate of the message's bytes
}

// add converts e, returns it to the pool and adds it.
func (b *batch) add(e *accesslog.Entry, tcp bool) {
	defer accesslog.PutEntry(e)
	b.n++
	b.size += 128 + len(e.Info.Cluster) + len(e.Info.Endpoint)
	for _, fs := range [][]accesslog.Field{e.Request, e.Response, e.Trailers} {
		for _, f := range fs {
			b.size += len(f.Name) + len(f.Value)
		}
	}
	if tcp {
		b.tcp = append(b.tcp, tcpEntry(e))
	} else {
		b.http = append(b.http, httpEntry(e))
	}
}

func (b *batch) reset() { *b = batch{} }

// message returns the batch as a StreamAccessLogsMessage.
func (b *batch) message(tcp bool) *alsv3.StreamAccessLogsMessage {
	if tcp {
		return &alsv3.StreamAccessLogsMessage{LogEntries: &alsv3.StreamAccessLogsMessage_TcpLogs{
			TcpLogs: &alsv3.StreamAccessLogsMessage_TCPAccessLogEntries{LogEntry: b.tcp}}}
	}
	return &alsv3.StreamAccessLogsMessage{LogEntries: &alsv3.StreamAccessLogsMessage_HttpLogs{
		HttpLogs: &alsv3.StreamAccessLogsMessage_HTTPAccessLogEntries{LogEntry: b.http}}}
}

func tcpEntry(e *accesslog.Entry) *datav3.TCPAccessLogEntry {
	return &datav3.TCPAccessLogEntry{CommonProperties: common(&e.Info),
		ConnectionProperties: &datav3.ConnectionProperties{ReceivedBytes: uint64(e.Info.BytesReceived), SentBytes: uint64(e.Info.BytesSent)}}
}

var versions = map[string]datav3.HTTPAccessLogEntry_HTTPVersion{"HTTP/1.0": datav3.HTTPAccessLogEntry_HTTP10,
	"HTTP/1.1": datav3.HTTPAccessLogEntry_HTTP11, "HTTP/2": datav3.HTTPAccessLogEntry_HTTP2}

func httpEntry(e *accesslog.Entry) *datav3.HTTPAccessLogEntry {
	i := &e.Info
	out := &datav3.HTTPAccessLogEntry{CommonProperties: common(i), ProtocolVersion: versions[i.Protocol],
		Request: request(e), Response: &datav3.HTTPResponseProperties{ResponseBodyBytes: uint64(i.BytesSent)}}
	if i.Code != 0 {
		out.Response.ResponseCode = wrapperspb.UInt32(uint32(i.Code))
	}
	if d, ok := format.CodeDetails(i); ok {
		out.Response.ResponseCodeDetails = d
	}
	out.Response.ResponseHeaders = fieldMap(e.Response)
	out.Response.ResponseTrailers = fieldMap(e.Trailers)
	return out
}

// request fills the request's properties from its fields: the standard
// ones in their own fields, the additional ones in request_headers.
func request(e *accesslog.Entry) *datav3.HTTPRequestProperties {
	r := &datav3.HTTPRequestProperties{RequestBodyBytes: uint64(e.Info.BytesReceived)}
	for _, f := range e.Request {
		v := string(f.Value)
		switch f.Name {
		case ":method":
			r.RequestMethod = corev3.RequestMethod(corev3.RequestMethod_value[strings.ToUpper(v)])
		case ":scheme":
			r.Scheme = v
		case ":authority":
			r.Authority = v
		case ":path":
			r.Path = v
		case "user-agent":
			r.UserAgent = v
		case "referer":
			r.Referer = v
		case "x-forwarded-for":
			r.ForwardedFor = v
		case "x-request-id":
			r.RequestId = v
		case "x-envoy-original-path":
			r.OriginalPath = v
		default:
			if r.RequestHeaders == nil {
				r.RequestHeaders = map[string]string{}
			}
			r.RequestHeaders[f.Name] = v
		}
	}
	return r
}

func fieldMap(fs []accesslog.Field) map[string]string {
	if len(fs) == 0 {
		return nil
	}
	m := make(map[string]string, len(fs))
	for _, f := range fs {
		m[f.Name] = string(f.Value)
	}
	return m
}

// common returns the properties an HTTP and a TCP entry share.
func common(i *stream.Info) *datav3.AccessLogCommon {
	c := &datav3.AccessLogCommon{
		StartTime: timestamppb.New(i.Start), DownstreamRemoteAddress: address(i.Addrs.Downstream),
		DownstreamDirectRemoteAddress: address(i.Addrs.Downstream), DownstreamLocalAddress: address(i.Addrs.Local),
		UpstreamLocalAddress: address(i.Addrs.UpstreamLocal), UpstreamCluster: i.Cluster, RouteName: i.Route,
		UpstreamTransportFailureReason: i.UpstreamFailure, UpstreamRequestAttemptCount: uint32(i.Attempts),
		TimeToLastDownstreamTxByte: durationpb.New(i.Total), Duration: durationpb.New(i.Total),
		ResponseFlags: flags(i.Flags),
	}
	if ap, err := netip.ParseAddrPort(i.Endpoint); err == nil {
		c.UpstreamRemoteAddress = address(ap)
	}
	if i.RequestDone > 0 {
		c.TimeToLastRxByte = durationpb.New(i.RequestDone)
	}
	if i.FirstUpstreamByte > 0 {
		c.TimeToFirstUpstreamRxByte = durationpb.New(i.FirstUpstreamByte)
	}
	if i.ServerName != "" {
		c.TlsProperties = &datav3.TLSProperties{TlsSniHostname: i.ServerName}
	}
	return c
}

func address(a netip.AddrPort) *corev3.Address {
	if !a.IsValid() {
		return nil
	}
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: a.Addr().String(), PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(a.Port())}}}}
}

// flags maps stream flags to the entry's response flags.
func flags(f stream.Flags) *datav3.ResponseFlags {
	has := func(x stream.Flags) bool { return f&x != 0 }
	return &datav3.ResponseFlags{
		NoHealthyUpstream: has(stream.NoHealthyUpstream), UpstreamRequestTimeout: has(stream.UpstreamRequestTimeout),
		UpstreamRemoteReset: has(stream.UpstreamRemoteReset), UpstreamConnectionFailure: has(stream.UpstreamConnectionFailure),
		UpstreamConnectionTermination: has(stream.UpstreamConnectionTermination), UpstreamOverflow: has(stream.UpstreamOverflow),
		NoRouteFound: has(stream.NoRouteFound), DelayInjected: has(stream.DelayInjected), FaultInjected: has(stream.FaultInjected),
		RateLimited: has(stream.RateLimited), DownstreamConnectionTermination: has(stream.DownstreamConnectionTermination),
		UpstreamRetryLimitExceeded: has(stream.UpstreamRetryLimitExceeded), StreamIdleTimeout: has(stream.StreamIdleTimeout),
		DownstreamProtocolError: has(stream.DownstreamProtocolError), UpstreamProtocolError: has(stream.UpstreamProtocolError),
		NoClusterFound: has(stream.NoClusterFound),
	}
}
