package l7

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// An error answer to a client that is still sending is followed by a
// graceful close, so that a client that sends its whole request before it
// reads (as curl does) can finish sending and read the status, instead of
// failing on a reset (issue 7, item 7).
func TestErrorAnswerSurvivesUnreadInput(t *testing.T) {
	be := backend(t, "a")
	p := startProxy(t, prefixRoutes(toCluster("/", "web")), map[string][]string{"web": {hostOf(be)}})
	tests := []struct {
		name, head string
		want       int
	}{
		{"400 malformed head", "POST / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\nContent-Length: 4000000\r\n\r\n", 400},
		{"431 huge head", "POST / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 20000) + "\r\n\r\n", 431},
		{"400 malformed chunk", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
	}
	junk := []byte(strings.Repeat("j", 64<<10))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, br := dialProxy(t, p.addr)
			if _, err := io.WriteString(c, tc.head); err != nil {
				t.Fatal(err)
			}
			// Send the rest only once the answer is here, as a client
			// slower than the proxy would.
			if _, err := br.Peek(1); err != nil {
				t.Fatal(err)
			}
			for i := range 12 { // 768 KiB, under the linger bound
				if _, err := c.Write(junk); err != nil {
					t.Fatalf("sending the request after %d KiB: %v", i*64, err)
				}
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}
