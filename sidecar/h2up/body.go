package h2up

import (
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/route"
)

// bufSize is the size of the buffers bodies move through: a DATA frame
// of x/net's default maximum size.
const bufSize = 16 << 10

var bufs = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// pump copies a stream's request body into the pipe the HTTP/2 request
// reads, then its trailers into the request, on a goroutine of its own.
// The pipe gives back pressure: the pump reads from the client only as
// fast as the upstream's flow control lets the request body go.
type pump struct {
	r    *io.PipeReader
	w    *io.PipeWriter
	done chan struct{}
	mu   sync.Mutex
	src  error // the client's failure, a *forward.SourceError
}

// startPump starts copying st's body for req.
func startPump(st forward.Stream, req *http.Request) *pump {
	p := &pump{done: make(chan struct{})}
	p.r, p.w = io.Pipe()
	go p.run(st, req)
	return p
}

func (p *pump) run(st forward.Stream, req *http.Request) {
	defer close(p.done)
	pb := bufs.Get().(*[]byte)
	defer bufs.Put(pb)
	for {
		n, err := st.ReadBody(*pb)
		if n > 0 {
			if _, werr := p.w.Write((*pb)[:n]); werr != nil {
				return // the stream ended: x/net closed the pipe
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			p.fail(err)
			return
		}
	}
	var tr []route.Header
	for _, t := range st.Trailers(tr) {
		req.Trailer.Add(string(t.Name), string(t.Value))
	}
	p.w.Close()
}

// fail ends the request body with the client's failure err.
func (p *pump) fail(err error) {
	var src *forward.SourceError
	if !errors.As(err, &src) && !errors.Is(err, forward.ErrMalformedBody) {
		err = &forward.SourceError{Err: err}
	}
	p.mu.Lock()
	p.src = err
	p.mu.Unlock()
	p.w.CloseWithError(err)
}

// sourceErr returns the client's failure, if the body failed so.
func (p *pump) sourceErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.src
}

// finished reports whether the pump has ended.
func (p *pump) finished() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait unblocks the pump's write and waits for it to end. A pump blocked
// reading from the client ends when the client's read fails or times
// out (the stream's own idle bound).
func (p *pump) wait() {
	p.r.CloseWithError(io.ErrClosedPipe)
	<-p.done
}
