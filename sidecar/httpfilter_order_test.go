package sidecar

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// tagType is a test-only HTTP filter: it tags requests (x-seen) and
// responses (x-order) with its name, and may reply or change the status.
const tagType = "type.googleapis.com/meshlb.test.Tag"

type tagConfig struct {
	name       string
	reply      int // reply from the request hook with this status
	respStatus int // set the response status from the response hook
}

type tagBuilder struct{}

func (tagBuilder) TypeURL() string { return tagType }

func (tagBuilder) Build(cfg any, _ httpfilter.Env) (httpfilter.Filter, error) {
	return &tag{*cfg.(*tagConfig)}, nil
}

func init() { httpfilter.Register(tagBuilder{}) }

type tag struct{ c tagConfig }

func (f *tag) RequestHeaders(s *httpfilter.Stream) httpfilter.Status {
	s.Request.Headers = append(s.Request.Headers, route.Header{Name: []byte("x-seen"), Value: []byte(f.c.name)})
	if f.c.reply != 0 {
		s.Reply = httpfilter.Reply{Status: f.c.reply, Body: "replied by " + f.c.name}
		return httpfilter.StopReply
	}
	return httpfilter.Continue
}

func (f *tag) ResponseHeaders(_ *httpfilter.Stream, r *httpfilter.Response) httpfilter.Status {
	r.Headers = append(r.Headers, route.Header{Name: []byte("x-order"), Value: []byte(f.c.name)})
	if f.c.respStatus != 0 {
		r.Status = f.c.respStatus
	}
	return httpfilter.Continue
}

func tagFilter(c tagConfig) spec.HTTPFilter {
	return spec.HTTPFilter{Name: c.name, TypeURL: tagType, Config: &c}
}

// TestFilterOrderThroughSockets shows, through a real sidecar and
// upstream, request hooks running in order and response hooks in reverse,
// a local reply stopping the chain and passing back through the response
// hooks of the filters before it, and a response hook changing the status.
func TestFilterOrderThroughSockets(t *testing.T) {
	tests := []struct {
		name       string
		filters    []spec.HTTPFilter
		wantStatus int
		wantBody   string
		wantOrder  string
		wantHits   int64
	}{{
		name:       "all continue",
		filters:    []spec.HTTPFilter{tagFilter(tagConfig{name: "a"}), tagFilter(tagConfig{name: "b"}), tagFilter(tagConfig{name: "c"})},
		wantStatus: 200, wantBody: "/ shadow= seen=a,b,c", wantOrder: "[c b a]", wantHits: 1,
	}, {
		name:       "local reply in the middle",
		filters:    []spec.HTTPFilter{tagFilter(tagConfig{name: "a"}), tagFilter(tagConfig{name: "b", reply: 403}), tagFilter(tagConfig{name: "c"})},
		wantStatus: 403, wantBody: "replied by b", wantOrder: "[a]",
	}, {
		name:       "response status changed",
		filters:    []spec.HTTPFilter{tagFilter(tagConfig{name: "a"}), tagFilter(tagConfig{name: "b", respStatus: 299})},
		wantStatus: 299, wantBody: "/ shadow= seen=a,b", wantOrder: "[b a]", wantHits: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSidecar(t)
			up := newFilterUpstream(t)
			addr := freeAddr(t)
			l := httpListener("web", addr, "be")
			l.FilterChains[0].HTTP.Filters = tt.filters
			if err := s.Apply(&config.Set{Listeners: []config.Listener{l}, Clusters: []config.Cluster{staticCluster("be", up.addr)}}); err != nil {
				t.Fatal(err)
			}
			r := send(t, addr, "/")
			order := fmt.Sprint(r.header[http.CanonicalHeaderKey("x-order")])
			if r.status != tt.wantStatus || r.body != tt.wantBody || order != tt.wantOrder || up.hits.Load() != tt.wantHits {
				t.Errorf("got %d %q x-order %s, %d upstream hits; want %d %q x-order %s, %d",
					r.status, r.body, order, up.hits.Load(), tt.wantStatus, tt.wantBody, tt.wantOrder, tt.wantHits)
			}
		})
	}
}

// bodyType is a test-only filter with body hooks, which counts the body
// bytes it sees each way.
const bodyType = "type.googleapis.com/meshlb.test.Body"

type bodyBuilder struct{}

func (bodyBuilder) TypeURL() string { return bodyType }

func (bodyBuilder) Build(any, httpfilter.Env) (httpfilter.Filter, error) { return &bodyFilter{}, nil }

func init() { httpfilter.Register(bodyBuilder{}) }

type bodyFilter struct{ in, out, ends atomic.Int64 }

var lastBodyFilter atomic.Pointer[bodyFilter]

func (f *bodyFilter) RequestHeaders(s *httpfilter.Stream) httpfilter.Status {
	lastBodyFilter.Store(f)
	s.WatchBody()
	return httpfilter.Continue
}

func (f *bodyFilter) RequestBody(_ *httpfilter.Stream, p []byte, end bool) httpfilter.Status {
	f.in.Add(int64(len(p)))
	if end {
		f.ends.Add(1)
	}
	return httpfilter.Continue
}

func (f *bodyFilter) ResponseBody(_ *httpfilter.Stream, p []byte, end bool) httpfilter.Status {
	f.out.Add(int64(len(p)))
	if end {
		f.ends.Add(1)
	}
	return httpfilter.Continue
}

// TestBodyHooksRun shows a filter that asks for the body (WatchBody) see
// the request body on its way upstream and the response body on its way
// back, each ending once, through an HTTP/1.1 listener and cluster.
func TestBodyHooksRun(t *testing.T) {
	s := newSidecar(t)
	url := serveHTTP(t, s, staticCluster("be", named(t, "be")), func(l *config.Listener) {
		l.FilterChains[0].HTTP.Filters = []spec.HTTPFilter{{Name: "body", TypeURL: bodyType}}
	})
	c := newClient()
	defer c.CloseIdleConnections()
	resp, err := c.Post(url+"/", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	f := lastBodyFilter.Load()
	if string(b) != "be" || f == nil || f.in.Load() != 5 || f.out.Load() != 2 || f.ends.Load() != 2 {
		t.Errorf("got %q; the filter saw %d bytes in, %d out, %d ends; want be, 5, 2, 2", b, f.in.Load(), f.out.Load(), f.ends.Load())
	}
}
