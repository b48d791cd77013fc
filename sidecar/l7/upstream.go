package l7

import (
	"bytes"
	"net"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/route"
)

// upstream is one HTTP/1 upstream connection with its reader and writer:
// the upstream codec's [forward.Exchange]. It is what the endpoint's pool holds,
// so the reader's raw-conn binding is made once per connection, not once
// per request; its buffers are pooled separately and held only during an
// exchange. It relays to and from HTTP/1 streams (*session) by copying
// bytes between the two codecs' buffers, and to and from any other
// [forward.Stream] through its generic body path (decoded bytes).
type upstream struct {
	net.Conn
	rd   reader
	out  writer
	resp respHead
	// delimited: the response in progress ends when the upstream closes.
	delimited bool
	// idleSince is when the response's head arrived (the forwarder's
	// clock reading): the pool counts the connection idle from then
	// rather than read the clock again at Done.
	idleSince time.Time
	// The generic path's state ([upgeneric.go]), reused per exchange.
	body decoder
	hdrs []route.Header
	num  [20]byte
}

var _ forward.Exchange = (*upstream)(nil)

// newExchange is the HTTP/1 upstream codec ([forward.Config.Upstream]).
func newExchange(c net.Conn) forward.Exchange { return newUpstream(c) }

// NewExchange is the HTTP/1 upstream codec for the configuration of
// another server codec (HTTP/2's): an [forward.Exchange] on the new
// upstream connection c.
func NewExchange(c net.Conn) forward.Exchange { return newUpstream(c) }

func newUpstream(c net.Conn) *upstream {
	u := &upstream{Conn: c}
	u.rd.init(c)
	u.out.init(c)
	return u
}

// release returns the buffers; it must run before u is pooled, since
// another request may take u from the pool at once.
func (u *upstream) release() {
	u.rd.drop()
	u.out.release()
}

// Done implements [forward.Exchange].
func (u *upstream) Done(ep *cluster.Endpoint, keep bool) {
	u.release()
	if keep {
		ep.Pool.PutAt(u, u.idleSince)
	} else {
		u.Close()
	}
}

// Send implements [forward.Exchange].
func (u *upstream) Send(st forward.Stream, rt *route.Route, skipXFF bool, idle time.Duration) error {
	u.rd.got = false // per exchange: tells a stale pooled connection from a reset
	u.out.acquire()
	u.out.idle = idle
	u.out.dl.hint = st.State().Now
	defer u.out.dl.clearHint()
	if s, ok := st.(*session); ok {
		return s.sendRequest(u, rt, skipXFF)
	}
	return u.sendGeneric(st, rt)
}

// ReadHead implements [forward.Exchange].
func (u *upstream) ReadHead(st forward.Stream, idle time.Duration, hard time.Time) (forward.ResponseHead, bool, error) {
	u.rd.tm.set(idle, hard)
	u.rd.tm.dl.hint = st.State().Now
	touched, err := u.readResponse(st)
	u.rd.tm.dl.clearHint()
	if err == errHeadTooLarge {
		err = errBadResponse
	}
	if err != nil {
		return forward.ResponseHead{}, touched, err
	}
	r := &u.resp
	bodyless := r.bodyless(st.Framing().Head)
	u.delimited = !bodyless && !r.chunked && r.length < 0
	return forward.ResponseHead{Status: r.status, Reason: r.line[min(4, len(r.line)):], Bodyless: bodyless, Delimited: u.delimited}, touched, nil
}

// Headers implements [forward.Exchange].
func (u *upstream) Headers(dst []route.Header) []route.Header {
	for _, f := range u.resp.fields {
		colon := bytes.IndexByte(f, ':')
		dst = append(dst, route.Header{Name: f[:colon], Value: trimOWS(f[colon+1:])})
	}
	return dst
}

// WriteHead implements [forward.Exchange].
func (u *upstream) WriteHead(st forward.Stream, closing bool) {
	if s, ok := st.(*session); ok {
		s.writeResponseHead(&u.resp, closing)
		return
	}
	u.writeHeadGeneric(st, closing)
}

// CopyBody implements [forward.Exchange].
func (u *upstream) CopyBody(st forward.Stream, bodyless bool) error {
	u.rd.discard(u.resp.size)
	u.idleSince = st.State().Now
	if s, ok := st.(*session); ok {
		s.out.dl.hint = u.idleSince
		defer s.out.dl.clearHint()
		return s.copyResponseBody(u, bodyless)
	}
	return u.copyGeneric(st, bodyless)
}

// Tunnel implements [forward.Exchange].
func (u *upstream) Tunnel(st forward.Stream) error {
	s, ok := st.(*session)
	if !ok {
		return u.tunnelGeneric(st)
	}
	return s.tunnel(u)
}

// Stale implements [forward.Exchange].
func (u *upstream) Stale() bool { return !u.rd.got }

// Reusable implements [forward.Exchange].
func (u *upstream) Reusable() bool {
	return !u.resp.close && !u.delimited && len(u.rd.buffered()) == 0
}

// readResponse reads response heads until a final one, forwarding 1xx
// interim responses (other than 101) to an HTTP/1 client st; other
// streams do not get them (the Stream interface has no interim head
// yet). touched says whether any reached the client.
func (u *upstream) readResponse(st forward.Stream) (touched bool, err error) {
	s, _ := st.(*session)
	for {
		err := parseResponse(&u.resp, u.rd.buffered())
		if err == errIncomplete {
			if err = u.rd.fill(); err != nil {
				return touched, err
			}
			continue
		}
		if err != nil {
			return touched, err
		}
		if u.resp.status >= 200 || u.resp.status == 101 {
			return touched, nil
		}
		if s != nil {
			touched = true
			// Under the idle write deadline, as every write to the client.
			if err := s.out.send(u.rd.buffered()[:u.resp.size]); err != nil {
				return touched, err
			}
		}
		u.rd.discard(u.resp.size)
	}
}
