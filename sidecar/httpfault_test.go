package sidecar

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFaultThroughSockets(t *testing.T) {
	abort := "              abort: {http_status: 503, percentage: {numerator: 100}}\n"
	tests := []struct {
		name, filters, routes string
		path                  string
		headers               []string
		wantStatus            int
		wantBody              string
		minTook               time.Duration
	}{
		{name: "abort", filters: faultFilter + abort, wantStatus: 503, wantBody: "fault filter abort"},
		{name: "abort response_body", filters: faultFilter + "              abort: {http_status: 500, percentage: {numerator: 100}, response_body: chaos}\n", wantStatus: 500, wantBody: "chaos"},
		{name: "abort percentage 0", filters: faultFilter + "              abort: {http_status: 503, percentage: {numerator: 0}}\n", wantStatus: 200, wantBody: "/ shadow= seen="},
		{name: "headers match", filters: faultFilter + abort + "              headers: [{name: x-chaos, exact_match: \"on\"}]\n",
			headers: []string{"X-Chaos", "on"}, wantStatus: 503, wantBody: "fault filter abort"},
		{name: "headers do not match", filters: faultFilter + abort + "              headers: [{name: x-chaos, exact_match: \"on\"}]\n",
			wantStatus: 200, wantBody: "/ shadow= seen="},
		{name: "header abort", filters: faultFilter + "              abort: {header_abort: {}, percentage: {numerator: 100}}\n",
			headers: []string{"x-envoy-fault-abort-request", "418"}, wantStatus: 418, wantBody: "fault filter abort"},
		{name: "header abort, header percentage 0", filters: faultFilter + "              abort: {header_abort: {}, percentage: {numerator: 100}}\n",
			headers: []string{"x-envoy-fault-abort-request", "418", "x-envoy-fault-abort-request-percentage", "0"}, wantStatus: 200, wantBody: "/ shadow= seen="},
		{name: "header abort without header", filters: faultFilter + "              abort: {header_abort: {}, percentage: {numerator: 100}}\n",
			wantStatus: 200, wantBody: "/ shadow= seen="},
		{name: "fixed delay", filters: faultFilter + "              delay: {fixed_delay: 0.3s, percentage: {numerator: 100}}\n",
			wantStatus: 200, wantBody: "/ shadow= seen=", minTook: 300 * time.Millisecond},
		{name: "header delay", filters: faultFilter + "              delay: {header_delay: {}, percentage: {numerator: 100}}\n",
			headers: []string{"x-envoy-fault-delay-request", "300"}, wantStatus: 200, wantBody: "/ shadow= seen=", minTook: 300 * time.Millisecond},
		{name: "delay then abort", filters: faultFilter + "              delay: {fixed_delay: 0.2s, percentage: {numerator: 100}}\n" + abort,
			wantStatus: 503, wantBody: "fault filter abort", minTook: 200 * time.Millisecond},
		{name: "per-route fault", filters: faultFilter, path: "/chaos", wantStatus: 502, wantBody: "fault filter abort",
			routes: `              - match: {prefix: /chaos}
                route: {cluster: be}
                typed_per_filter_config:
                  fault: {"@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault, abort: {http_status: 502, percentage: {numerator: 100}}}
` + allRoute},
		{name: "per-route fault, other route", filters: faultFilter, path: "/", wantStatus: 200, wantBody: "/ shadow= seen=",
			routes: "              - {match: {prefix: /chaos}, route: {cluster: be}, typed_per_filter_config: {fault: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault, abort: {http_status: 502, percentage: {numerator: 100}}}}}\n" + allRoute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSidecar(t)
			up := newFilterUpstream(t)
			routes, path := tt.routes, tt.path
			if routes == "" {
				routes, path = allRoute, "/"
			}
			addr := filterSidecar(t, s, up, tt.filters, "", routes)
			r := send(t, addr, path, tt.headers...)
			if r.status != tt.wantStatus || r.body != tt.wantBody || r.took < tt.minTook {
				t.Errorf("got %d %q after %v, want %d %q after at least %v", r.status, r.body, r.took, tt.wantStatus, tt.wantBody, tt.minTook)
			}
			if aborted := tt.wantStatus != 200; aborted && up.hits.Load() != 0 {
				t.Errorf("an aborted request reached the upstream")
			}
		})
	}
}

// TestFaultDelayBoundedByStreamIdle shows a delay longer than the
// listener's stream_idle_timeout answered 408 at that timeout, as Envoy's
// stream idle timer does.
func TestFaultDelayBoundedByStreamIdle(t *testing.T) {
	s := newSidecar(t)
	up := newFilterUpstream(t)
	addr := freeAddr(t)
	y := filterBootstrap(addr, up.addr, faultFilter+"              delay: {fixed_delay: 60s, percentage: {numerator: 100}}\n", "", allRoute)
	y = strings.Replace(y, "          stat_prefix: web\n", "          stat_prefix: web\n          stream_idle_timeout: 0.3s\n", 1)
	applyBootstrap(t, s, y)
	r := send(t, addr, "/")
	if r.status != 408 || r.body != "stream timeout" || r.took < 300*time.Millisecond || r.took > 3*time.Second {
		t.Errorf("got %d %q after %v, want 408 \"stream timeout\" after 0.3s", r.status, r.body, r.took)
	}
	if n := up.hits.Load(); n != 0 {
		t.Errorf("the upstream saw %d requests, want 0", n)
	}
}

// TestFaultBeforeDirectResponse shows filters running for routes the
// router answers itself, as in Envoy.
func TestFaultBeforeDirectResponse(t *testing.T) {
	s := newSidecar(t)
	addr := filterSidecar(t, s, newFilterUpstream(t), faultFilter+"              abort: {header_abort: {}, percentage: {numerator: 100}}\n", "",
		"              - {match: {prefix: /}, direct_response: {status: 200, body: {inline_string: direct}}}")
	if r := send(t, addr, "/"); r.status != 200 || r.body != "direct" {
		t.Errorf("without the header: %d %q", r.status, r.body)
	}
	if r := send(t, addr, "/", "x-envoy-fault-abort-request", "503"); r.status != 503 {
		t.Errorf("with x-envoy-fault-abort-request: %d %q, want 503", r.status, r.body)
	}
}

// TestFaultMaxActiveThroughSockets shows max_active_faults: while one
// request is delayed, another gets no fault.
func TestFaultMaxActiveThroughSockets(t *testing.T) {
	s := newSidecar(t)
	addr := filterSidecar(t, s, newFilterUpstream(t), faultFilter+"              delay: {header_delay: {}, percentage: {numerator: 100}}\n              max_active_faults: 1\n", "", allRoute)
	var wg sync.WaitGroup
	var slow reply
	wg.Go(func() { slow = send(t, addr, "/", "x-envoy-fault-delay-request", "1000") })
	// Wait until the first request is being delayed: its connection is open.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for httpStats(s).CxActive.Load() == 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	fast := send(t, addr, "/", "x-envoy-fault-delay-request", "1000")
	wg.Wait()
	if slow.took < time.Second || fast.took > 500*time.Millisecond {
		t.Errorf("delays %v and %v, want one of 1s and one without", slow.took, fast.took)
	}
}

// TestFaultDelayEndsWhenClientLeaves shows a delay cut short when the
// client closes its connection: the request never reaches the upstream
// and the connection is gone long before the delay would end.
func TestFaultDelayEndsWhenClientLeaves(t *testing.T) {
	s := newSidecar(t)
	up := newFilterUpstream(t)
	addr := filterSidecar(t, s, up, faultFilter+"              delay: {fixed_delay: 60s, percentage: {numerator: 100}}\n", "", allRoute)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stats := httpStats(s)
	for stats.RqTotal.Load() == 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	c.Close()
	for stats.CxActive.Load() != 0 {
		if ctx.Err() != nil {
			t.Fatalf("connection still active 5s after the client left a 60s delay")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := up.hits.Load(); n != 0 {
		t.Errorf("the upstream saw %d requests, want 0", n)
	}
}

// TestFaultDelayKeepsBody shows a request body sent during a delay is
// forwarded whole.
func TestFaultDelayKeepsBody(t *testing.T) {
	s := newSidecar(t)
	addr := filterSidecar(t, s, newFilterUpstream(t), faultFilter+"              delay: {fixed_delay: 0.2s, percentage: {numerator: 100}}\n", "", allRoute)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	fmt.Fprintf(c, "GET /q HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	b := make([]byte, 0, 4096)
	for {
		buf := make([]byte, 4096)
		n, err := c.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	got := string(b)
	for _, want := range []string{"/p shadow= seen=", "/q shadow= seen="} {
		if !strings.Contains(got, want) {
			t.Errorf("responses %q lack %q", got, want)
		}
	}
}
