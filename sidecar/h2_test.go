package sidecar

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// h2cClient speaks HTTP/2 with prior knowledge over plaintext.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}, Timeout: 10 * time.Second}
}

// The HCM's codec_type decides which clients the listener serves: AUTO
// tells an HTTP/2 client preface from HTTP/1.1 on the same port, HTTP2
// serves h2c only and HTTP1 HTTP/1.1 only. Either way the HTTP/1 upstream
// gets HTTP/1.1.
func TestCodecType(t *testing.T) {
	be := named(t, "be")
	tests := []struct {
		codec  spec.Codec
		h1, h2 bool // whether each client gets the upstream's answer
	}{
		{spec.CodecAuto, true, true},
		{spec.CodecHTTP1, true, false},
		{spec.CodecHTTP2, false, true},
	}
	for _, tc := range tests {
		t.Run([]string{"AUTO", "HTTP1", "HTTP2"}[tc.codec], func(t *testing.T) {
			s := newSidecar(t)
			url := serveHTTP(t, s, staticCluster("be", be), func(l *config.Listener) {
				l.FilterChains[0].HTTP.Codec = tc.codec
			})
			for _, c := range []struct {
				name   string
				client *http.Client
				want   bool
				proto  string
			}{{"http/1.1", newClient(), tc.h1, "HTTP/1.1"}, {"h2c", h2cClient(), tc.h2, "HTTP/2.0"}} {
				c.client.Timeout = 2 * time.Second
				resp, err := c.client.Get(url + "/x")
				if err != nil {
					if c.want {
						t.Errorf("%s client: %v", c.name, err)
					}
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				ok := resp.StatusCode == 200 && string(b) == "be" && resp.Proto == c.proto
				if ok != c.want {
					t.Errorf("%s client: got %s %d %q, want served: %v", c.name, resp.Proto, resp.StatusCode, b, c.want)
				}
				c.client.CloseIdleConnections()
			}
		})
	}
}
