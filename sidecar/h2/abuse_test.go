package h2

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/http2"
)

// A client that opens and resets streams faster than maxResets a second
// (rapid reset, CVE-2023-44487) gets GOAWAY ENHANCE_YOUR_CALM.
func TestRapidReset(t *testing.T) {
	p := startProxy(t, routes(), nil)
	rc, _ := dialRaw(t, p.addr)
	for id := uint32(1); id < 2*maxResets+10; id += 2 {
		rc.request(id, "GET", "/", false)
		rc.fr.WriteRSTStream(id, http2.ErrCodeCancel)
	}
	wantGoAway(t, rc, http2.ErrCodeEnhanceYourCalm)
}

// A header block of more CONTINUATION frames than maxBlockFrames
// (CONTINUATION flood, CVE-2024-27316) ends the connection before the
// block ends.
func TestContinuationFlood(t *testing.T) {
	p := startProxy(t, routes(), nil)
	rc, _ := dialRaw(t, p.addr)
	rc.buf.Reset()
	rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x82}})
	for range maxBlockFrames + 10 {
		rc.fr.WriteContinuation(1, false, []byte{0x84})
	}
	wantGoAway(t, rc, http2.ErrCodeEnhanceYourCalm)
}

// The response body respects the client's stream and connection windows:
// with an initial window of 100 bytes no DATA frame goes beyond it, and
// the rest follows each WINDOW_UPDATE.
func TestSendFlowControl(t *testing.T) {
	body := strings.Repeat("0123456789", 100)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
	defer be.Close()
	p := startProxy(t, routes(toCluster("/", "be")), map[string][]string{"be": {strings.TrimPrefix(be.URL, "http://")}})
	rc, _ := dialRaw(t, p.addr)
	rc.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100})
	rc.request(1, "GET", "/", true)
	var got []byte
	var sizes []int
	for len(got) < len(body) {
		d, err := until[*http2.DataFrame](rc, nil)
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		got = append(got, d.Data()...)
		sizes = append(sizes, len(d.Data()))
		if len(d.Data()) > 0 {
			rc.fr.WriteWindowUpdate(1, uint32(len(d.Data())))
		}
	}
	for _, n := range sizes {
		if n > 100 {
			t.Errorf("DATA frames %v: one exceeds the 100-byte window", sizes)
			break
		}
	}
	if diff := cmp.Diff(body, string(got)); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

// A request body larger than the connection and stream windows reaches
// the upstream whole: the server gives the window back as the body is
// read.
func TestLargeUpload(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	}))
	defer be.Close()
	p := startProxy(t, routes(toCluster("/", "be")), map[string][]string{"be": {strings.TrimPrefix(be.URL, "http://")}})
	const size = 3 * defaultWindow
	resp, err := h2cClient(t).Post("http://"+p.addr+"/up", "application/octet-stream", io.LimitReader(zeros{}, size))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if got, want := string(b), fmt.Sprint(size); got != want {
		t.Errorf("upstream read %s bytes, want %s", got, want)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// wantGoAway reads frames until GOAWAY and checks its code.
func wantGoAway(t *testing.T, rc *rawConn, code http2.ErrCode) {
	t.Helper()
	ga, err := until[*http2.GoAwayFrame](rc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ga.ErrCode != code {
		t.Errorf("GOAWAY %v, want %v", ga.ErrCode, code)
	}
}
