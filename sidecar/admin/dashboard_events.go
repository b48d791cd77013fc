package admin

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// errNoDeadline refuses an event stream whose connection cannot take a
// write deadline: without one a stalled browser would hold the handler.
var errNoDeadline = errors.New("this connection cannot bound a write; use /dashboard/state")

// events streams frames as server-sent events ("event: frame", one JSON
// frame per data line) every dashInterval until the client goes away, a
// write to it takes longer than sendTimeout (a slow or dead browser is
// dropped, never waited on), or the sidecar drains ("event: bye", so the
// admin server can shut down). At most maxClients streams are open at
// once; more are refused 503. The browser's EventSource reconnects by
// itself after a drop (retry: 2000).
func (d *dashboard) events(w http.ResponseWriter, r *http.Request) {
	if d.clients.Add(1) > d.maxClients {
		d.clients.Add(-1)
		http.Error(w, fmt.Sprintf("too many dashboard clients (at most %d)", d.maxClients), http.StatusServiceUnavailable)
		return
	}
	defer d.clients.Add(-1)
	rc := http.NewResponseController(w)
	if err := rc.SetWriteDeadline(time.Now().Add(d.sendTimeout)); err != nil {
		http.Error(w, errNoDeadline.Error(), http.StatusNotImplemented)
		return
	}
	defer rc.SetWriteDeadline(time.Time{}) // the connection may serve more requests
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	bw := bufio.NewWriterSize(w, 16<<10)
	send := func(event string, data []byte) error {
		if err := rc.SetWriteDeadline(time.Now().Add(d.sendTimeout)); err != nil {
			return err
		}
		fmt.Fprintf(bw, "event: %s\ndata: %s\n\n", event, data)
		if err := bw.Flush(); err != nil {
			return err
		}
		return rc.Flush()
	}
	fmt.Fprint(bw, "retry: 2000\n")
	tick := time.NewTicker(dashInterval)
	defer tick.Stop()
	for {
		if d.a.sc.Draining() {
			send("bye", []byte(`{"state":"DRAINING"}`))
			return
		}
		if send("frame", d.current(time.Now())) != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}
