package format

import "github.com/meshlb/meshlb/sidecar/stream"

// responseFlags are Envoy's response flags in the order its
// %RESPONSE_FLAGS% writes them (its ResponseFlag enum's order), with the
// stream flag of each that meshlb raises; 0 for those it never does.
var responseFlags = [...]struct {
	name string
	flag stream.Flags
}{
	{"LH", 0}, {"UH", stream.NoHealthyUpstream}, {"UT", stream.UpstreamRequestTimeout}, {"LR", 0},
	{"UR", stream.UpstreamRemoteReset}, {"UF", stream.UpstreamConnectionFailure},
	{"UC", stream.UpstreamConnectionTermination}, {"UO", stream.UpstreamOverflow}, {"NR", stream.NoRouteFound},
	{"DI", stream.DelayInjected}, {"FI", stream.FaultInjected}, {"RL", stream.RateLimited}, {"UAEX", 0},
	{"RLSE", 0}, {"DC", stream.DownstreamConnectionTermination}, {"URX", stream.UpstreamRetryLimitExceeded},
	{"SI", stream.StreamIdleTimeout}, {"IH", 0}, {"DPE", stream.DownstreamProtocolError}, {"UMSDR", 0},
	{"RFCF", 0}, {"NFCF", 0}, {"DT", 0}, {"UPE", stream.UpstreamProtocolError}, {"NC", stream.NoClusterFound},
	{"OM", 0}, {"DF", 0}, {"DO", 0}, {"DR", 0}, {"UDO", 0},
}

// ResponseFlag returns the stream flag of Envoy's short response flag
// name ("UF"), and whether Envoy has the name. A flag meshlb never raises
// is known, with no stream flag.
func ResponseFlag(name string) (stream.Flags, bool) {
	for _, f := range responseFlags {
		if f.name == name {
			return f.flag, true
		}
	}
	return 0, false
}

// AppendFlags appends flags as Envoy's %RESPONSE_FLAGS% does: short names
// in Envoy's order, comma separated, "-" for none. It does not allocate
// when dst has room.
func AppendFlags(dst []byte, flags stream.Flags) []byte {
	n := len(dst)
	for _, f := range responseFlags {
		if f.flag == 0 || flags&f.flag == 0 {
			continue
		}
		if len(dst) > n {
			dst = append(dst, ',')
		}
		dst = append(dst, f.name...)
	}
	if len(dst) == n {
		dst = append(dst, '-')
	}
	return dst
}

// details are Envoy's response code details for the flags that decide
// them, most telling first.
var details = [...]struct {
	flag stream.Flags
	text string
}{
	{stream.NoRouteFound, "route_not_found"},
	{stream.NoClusterFound, "cluster_not_found"},
	{stream.NoHealthyUpstream, "no_healthy_upstream"},
	{stream.UpstreamOverflow, "upstream_reset_before_response_started{overflow}"},
	{stream.FaultInjected, "fault_filter_abort"},
	{stream.RateLimited, "local_rate_limited"},
	{stream.UpstreamRequestTimeout, "response_timeout"},
	{stream.StreamIdleTimeout, "stream_idle_timeout"},
	{stream.UpstreamConnectionFailure, "upstream_reset_before_response_started{connection_failure}"},
	{stream.UpstreamRemoteReset, "upstream_reset_before_response_started{remote_reset}"},
	{stream.UpstreamProtocolError, "upstream_reset_before_response_started{protocol_error}"},
	{stream.UpstreamConnectionTermination, "upstream_reset_before_response_started{connection_termination}"},
	{stream.DownstreamProtocolError, "codec_error"},
	{stream.DownstreamConnectionTermination, "downstream_remote_disconnect"},
}

// CodeDetails returns Envoy's %RESPONSE_CODE_DETAILS% for i as meshlb
// knows it: from the flag that decided the response, "via_upstream" for
// a response relayed from an endpoint; false when it cannot tell (a
// route's or a filter's own answer).
func CodeDetails(i *stream.Info) (string, bool) {
	for _, d := range details {
		if i.Flags&d.flag != 0 {
			return d.text, true
		}
	}
	return "via_upstream", i.Code != 0 && i.Endpoint != ""
}
