package l7

import (
	"testing"
)

// Absolute-form targets with an empty authority or userinfo are refused,
// and HTTP/1.0 follows Envoy's http_protocol_options: 426 unless
// accept_http_10, and a request without Host takes
// default_host_for_http_10 or gets 400 (issue 7, item 8).
func TestAuthorityAndHTTP10(t *testing.T) {
	tests := []struct {
		name     string
		cfg      func(*Config)
		req      string
		want     int
		wantHost string // the Host the upstream saw, for 200s
	}{
		{"empty authority", nil, "GET http:///x HTTP/1.1\r\nHost: x\r\n\r\n", 400, ""},
		{"userinfo", nil, "GET http://evil@good/ HTTP/1.1\r\nHost: good\r\n\r\n", 400, ""},
		{"absolute form", nil, "GET http://good/ HTTP/1.1\r\nHost: other\r\n\r\n", 200, "good"},
		{"http/1.0 not accepted", nil, "GET / HTTP/1.0\r\nHost: x\r\n\r\n", 426, ""},
		{"http/1.0 without host", accept10(""), "GET / HTTP/1.0\r\n\r\n", 400, ""},
		{"http/1.0 default host", accept10("legacy.local"), "GET / HTTP/1.0\r\n\r\n", 200, "legacy.local"},
		{"http/1.0 with host", accept10("legacy.local"), "GET / HTTP/1.0\r\nHost: given\r\n\r\n", 200, "given"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t)
			var opts []func(*Config)
			if tc.cfg != nil {
				opts = append(opts, tc.cfg)
			}
			p := startProxy(t, prefixRoutes(toCluster("/", "web")), map[string][]string{"web": {hostOf(rec.Server)}}, opts...)
			c, br := dialProxy(t, p.addr)
			code, _ := roundTrip(t, c, br, tc.req)
			if code != tc.want {
				t.Fatalf("status %d, want %d", code, tc.want)
			}
			seen := rec.requests()
			switch {
			case tc.want != 200 && len(seen) != 0:
				t.Errorf("upstream saw %d requests, want none", len(seen))
			case tc.want == 200 && (len(seen) != 1 || seen[0].host != tc.wantHost):
				t.Errorf("upstream saw %+v, want one request with Host %q", seen, tc.wantHost)
			}
		})
	}
}

func accept10(host string) func(*Config) {
	return func(c *Config) { c.AcceptHTTP10, c.DefaultHostHTTP10 = true, []byte(host) }
}
