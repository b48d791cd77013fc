package format

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshlb/meshlb/sidecar/stream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// headerMap is a Headers for tests.
type headerMap map[string][]byte

func (h headerMap) Header(name string) ([]byte, bool) {
	v, ok := h[name]
	return v, ok
}

// request is a request Headers with a path and query.
type request struct {
	headerMap
	path, query []byte
}

func (r *request) PathQuery() ([]byte, []byte) { return r.path, r.query }

func (r *request) Header(name string) ([]byte, bool) {
	if name == ":path" {
		return r.path, true
	}
	return r.headerMap.Header(name)
}

var start = time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.UTC)

func testContext() *Context {
	info := &stream.Info{Protocol: "HTTP/1.1", Route: "r1", Cluster: "web", Endpoint: "10.0.0.2:8080", Attempts: 2,
		Code: 503, Flags: stream.UpstreamConnectionFailure | stream.UpstreamRetryLimitExceeded,
		BytesReceived: 120, BytesSent: 345, Start: start, FirstUpstreamByte: 7 * time.Millisecond, Total: 12*time.Millisecond + 900*time.Microsecond,
		RequestDone: 3 * time.Millisecond, ConnID: 77, ServerName: "api.example.com", UpstreamFailure: "tls: bad certificate",
		Addrs: stream.Addrs{Downstream: netip.MustParseAddrPort("192.0.2.7:41000"), Local: netip.MustParseAddrPort("[2001:db8::1]:8080"),
			UpstreamLocal: netip.MustParseAddrPort("10.0.0.1:51234")}}
	req := &request{headerMap: headerMap{":method": []byte("GET"), ":authority": []byte("api.example.com"),
		"user-agent": []byte("curl/8"), "x-request-id": []byte("abc")}, path: []byte("/v1/items"), query: []byte("id=4")}
	return &Context{Info: info, Request: req, Response: headerMap{"content-type": []byte("text/plain")},
		Trailers: headerMap{"grpc-status": []byte("14")}}
}

// TestOperators shows every command operator, for access logs (missing
// is "-") and header values (missing is empty).
func TestOperators(t *testing.T) {
	host, _ := os.Hostname()
	tests := []struct {
		format, text, header string
	}{
		{"%START_TIME%", "2026-03-04T05:06:07.891Z", ""},
		{"%START_TIME(%Y/%m/%d %H:%M:%S %z %Z)%", "2026/03/04 05:06:07 +0000 UTC", ""},
		{"%START_TIME(%s.%3f|%6f|%f|%E6S|%y %b %a %j %%)%", "1772600767.891|891234|891234567|07.891234|26 Mar Wed 063 %", ""},
		{"%REQ(:METHOD)% %REQ(:PATH)% %REQ(:AUTHORITY)%", "GET /v1/items?id=4 api.example.com", ""},
		{"%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "/v1/items?id=4", ""},
		{"%REQ(USER-AGENT?X-NONE)%", "curl/8", ""},
		{"%REQ(X-NONE)%.", "-.", "."},
		{"[%REQ(X-NONE)%]", "[-]", "[]"},
		{"%REQ(USER-AGENT):3%", "cur", ""},
		{"%REQ(X-REQUEST-ID)%", "abc", ""},
		{"%RESP(CONTENT-TYPE)% %RESP(X-NONE)%", "text/plain -", "text/plain "},
		{"%PROTOCOL%", "HTTP/1.1", ""},
		{"%RESPONSE_CODE%", "503", ""},
		{"%RESPONSE_FLAGS%", "UF,URX", ""},
		{"%BYTES_RECEIVED% %BYTES_SENT%", "120 345", ""},
		{"%DURATION% %RESPONSE_DURATION%", "12 7", ""},
		{"%UPSTREAM_HOST% %UPSTREAM_CLUSTER% %ROUTE_NAME%", "10.0.0.2:8080 web r1", ""},
		{"%UPSTREAM_REQUEST_ATTEMPT_COUNT%", "2", ""},
		{"%DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%", "192.0.2.7:41000 192.0.2.7", ""},
		{"%DOWNSTREAM_DIRECT_REMOTE_ADDRESS% %DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT%", "192.0.2.7:41000 192.0.2.7", ""},
		{"%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%", "[2001:db8::1]:8080 2001:db8::1", ""},
		{"%HOSTNAME%", host, ""},
		{"100%% sure", "100% sure", ""},
		{"%TRAILER(GRPC-STATUS)% %TRAILER(X-NONE?GRPC-STATUS)% %TRAILER(X-NONE)%", "14 14 -", "14 14 "},
		{"%REQUEST_DURATION%", "3", ""},
		{"%RESPONSE_CODE_DETAILS%", "upstream_reset_before_response_started{connection_failure}", ""},
		{"%UPSTREAM_LOCAL_ADDRESS% %UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%", "10.0.0.1:51234 10.0.0.1", ""},
		{"%UPSTREAM_REMOTE_ADDRESS%", "10.0.0.2:8080", ""},
		{"%REQUESTED_SERVER_NAME%", "api.example.com", ""},
		{"%UPSTREAM_TRANSPORT_FAILURE_REASON%", "tls: bad certificate", ""},
		{"%CONNECTION_ID%", "77", ""},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			header := tc.header
			if header == "" {
				header = tc.text
			}
			for _, mode := range []struct {
				text bool
				want string
			}{{true, tc.text}, {false, header}} {
				f, err := Parse(tc.format, mode.text)
				if err != nil {
					t.Fatal(err)
				}
				if got := string(f.Append(nil, testContext())); got != mode.want {
					t.Errorf("text=%t: got %q, want %q", mode.text, got, mode.want)
				}
			}
		})
	}
}

func TestMissingInfo(t *testing.T) {
	f, err := Parse("%UPSTREAM_HOST% %RESPONSE_DURATION% %DOWNSTREAM_REMOTE_ADDRESS% %PROTOCOL% %REQUEST_DURATION% "+
		"%RESPONSE_CODE_DETAILS% %UPSTREAM_LOCAL_ADDRESS% %REQUESTED_SERVER_NAME% %UPSTREAM_TRANSPORT_FAILURE_REASON% "+
		"%CONNECTION_ID% %REQ(A)% %RESP(A)% %TRAILER(A)%", true)
	if err != nil {
		t.Fatal(err)
	}
	want := "- - - - - - - - - - - - -"
	if got := string(f.Append(nil, &Context{Info: &stream.Info{}})); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestResponseFlags shows %RESPONSE_FLAGS% in Envoy's order and
// %RESPONSE_CODE_DETAILS% for the flags and outcomes that decide it.
func TestResponseFlags(t *testing.T) {
	tests := []struct {
		name          string
		info          stream.Info
		flags, detail string
	}{
		{"relayed", stream.Info{Code: 200, Endpoint: "10.0.0.2:80"}, "-", "via_upstream"},
		{"local reply", stream.Info{Code: 403}, "-", "-"},
		{"no route", stream.Info{Code: 404, Flags: stream.NoRouteFound}, "NR", "route_not_found"},
		{"no healthy", stream.Info{Code: 503, Flags: stream.NoHealthyUpstream}, "UH", "no_healthy_upstream"},
		{"overflow", stream.Info{Code: 503, Flags: stream.UpstreamOverflow}, "UO", "upstream_reset_before_response_started{overflow}"},
		{"connect and retries", stream.Info{Code: 503, Flags: stream.UpstreamRetryLimitExceeded | stream.UpstreamConnectionFailure},
			"UF,URX", "upstream_reset_before_response_started{connection_failure}"},
		{"timeout", stream.Info{Code: 504, Flags: stream.UpstreamRequestTimeout}, "UT", "response_timeout"},
		{"client gone", stream.Info{Flags: stream.DownstreamConnectionTermination}, "DC", "downstream_remote_disconnect"},
		{"upstream closed", stream.Info{Code: 503, Flags: stream.UpstreamConnectionTermination}, "UC",
			"upstream_reset_before_response_started{connection_termination}"},
		{"reset", stream.Info{Code: 503, Flags: stream.UpstreamRemoteReset}, "UR", "upstream_reset_before_response_started{remote_reset}"},
		{"rate limited, delayed", stream.Info{Code: 429, Flags: stream.RateLimited | stream.DelayInjected}, "DI,RL", "local_rate_limited"},
		{"fault", stream.Info{Code: 503, Flags: stream.FaultInjected}, "FI", "fault_filter_abort"},
		{"idle", stream.Info{Code: 504, Flags: stream.StreamIdleTimeout}, "SI", "stream_idle_timeout"},
		{"protocol errors", stream.Info{Code: 502, Flags: stream.UpstreamProtocolError | stream.DownstreamProtocolError}, "DPE,UPE", "upstream_reset_before_response_started{protocol_error}"},
		{"no cluster", stream.Info{Code: 503, Flags: stream.NoClusterFound}, "NC", "cluster_not_found"},
	}
	f, err := Parse("%RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(f.Append(nil, &Context{Info: &tc.info}))
			if want := tc.flags + " " + tc.detail; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
	for _, name := range []string{"UF", "LR", "UAEX", "DR"} {
		if _, ok := ResponseFlag(name); !ok {
			t.Errorf("ResponseFlag(%q) unknown", name)
		}
	}
	if _, ok := ResponseFlag("XX"); ok {
		t.Error("ResponseFlag(XX) known")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ format, want string }{
		{"%NOPE%", "command operator NOPE is not supported"},
		{"%REQ%", "REQ needs a header name"},
		{"%REQ()%", "REQ needs a header name"},
		{"%PROTOCOL(x)%", "takes no argument"},
		{"%REQ(a):x%", "malformed length limit"},
		{"%REQ(a):0%", "malformed length limit"},
		{"abc %PROTOCOL", "unterminated command operator"},
		{"%START_TIME(%Q)%", "conversion %Q is not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			_, err := Parse(tc.format, true)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q) = %v, want an error containing %q", tc.format, err, tc.want)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	tests := []struct {
		format, want string
		empty        bool
	}{
		{"%RESPONSE_CODE%", "503", false},
		{"%DURATION%", "12", false},
		{"%CONNECTION_ID%", "77", false},
		{"%REQ(X-NONE)%", "null", true},
		{"%REQ(:METHOD)%", `"GET"`, false},
		{"%REQ(USER-AGENT):2%", `"cu"`, false},
		{"code %RESPONSE_CODE%", `"code 503"`, false},
		{"say \"hi\"\n", `"say \"hi\"\n"`, false},
		{"literal", `"literal"`, false},
		{"", `""`, true},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			f, err := Parse(tc.format, true)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := f.AppendJSON([]byte("x"), testContext())
			if string(got) != "x"+tc.want || ok == tc.empty {
				t.Errorf("got %q, %t; want %q, %t", got, ok, "x"+tc.want, !tc.empty)
			}
		})
	}
}

func TestLiteral(t *testing.T) {
	f, _ := Parse("a%%b", false)
	if s, ok := f.Literal(); !ok || s != "a%b" {
		t.Errorf("Literal() = %q, %t; want a%%b, true", s, ok)
	}
	f, _ = Parse("a%PROTOCOL%", false)
	if _, ok := f.Literal(); ok {
		t.Error("Literal() = true for a format with an operator")
	}
}

// BenchmarkDefaultFormat formats Envoy's default access log line.
func BenchmarkDefaultFormat(b *testing.B) {
	f, err := Parse(Default, true)
	if err != nil {
		b.Fatal(err)
	}
	c := testContext()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = f.Append(buf[:0], c)
	}
}
