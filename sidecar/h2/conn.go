package h2

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	sstream "github.com/meshlb/meshlb/sidecar/stream"
)

// maxWindow is the largest flow-control window (RFC 9113 6.9.1).
const maxWindow = 1<<31 - 1

// conn is one HTTP/2 connection. The reader goroutine (serve) owns the
// fields above mu; mu guards the rest, shared with the streams'
// goroutines.
type conn struct {
	srv   *Server
	cfg   *Config
	ctx   context.Context
	nc    net.Conn
	sc    *sstream.Conn
	peer  []byte
	idle  time.Duration // the stream idle timeout; 0: none
	br    *bufio.Reader
	fr    *http2.Framer
	dec   *hpack.Decoder
	block headerBlock
	// maxStreams, streamWin and connWin are what this side advertised.
	maxStreams       uint32
	streamWin        int32
	connWin          int32
	connect          bool   // SETTINGS_ENABLE_CONNECT_PROTOCOL advertised
	lastID           uint32 // the highest stream the client opened
	sawSettings      bool
	resets           int // streams reset or refused in this second
	resetsSince      time.Time
	wdl              atomic.Int64 // the socket's write deadline (UnixNano)
	idleTimer        *time.Timer
	wg               sync.WaitGroup // the streams' goroutines
	drainStop        func() bool
	mu               sync.Mutex
	out, spare       []byte // queued output; the buffer the last write used
	writing          bool   // a goroutine is writing out
	yielding         bool   // a stream is about to write out (flushBatched)
	werr             error
	closed           bool // the connection ended: every wait ends
	goAway           bool // GOAWAY sent: no new streams
	streams          map[uint32]*stream
	sendConn         int32  // connection bytes this side may send
	peerWin          int32  // the client's SETTINGS_INITIAL_WINDOW_SIZE
	peerFrame        uint32 // the client's SETTINGS_MAX_FRAME_SIZE
	unackedConn      int32  // body bytes consumed, not yet given back
	recvConn         int32  // connection bytes the client may still send
	winWait, outWait chan struct{}
	lastActive       time.Time // when the last stream ended
}

// Abuse bounds (CVE-2024-27316, CVE-2023-44487).
const (
	maxBlockBytes  = 2 * maxHeaderBytes // encoded header block
	maxBlockFrames = 64                 // HEADERS and CONTINUATION frames of a block
	maxResets      = 400                // streams reset or refused a second
)

func newConn(s *Server, cfg *Config, ctx context.Context, nc net.Conn) *conn {
	p := cfg.HTTP2
	c := &conn{srv: s, cfg: cfg, ctx: ctx, nc: nc, sc: sstream.ConnFrom(ctx), idle: cfg.StreamIdle,
		maxStreams: p.MaxConcurrentStreams, streamWin: int32(p.InitialStreamWindowSize),
		connect: p.AllowConnect, sendConn: 65535, peerWin: 65535, peerFrame: 16 << 10,
		streams: map[uint32]*stream{}}
	if c.maxStreams == 0 {
		c.maxStreams = defaultMaxStreams
	}
	if c.streamWin == 0 {
		c.streamWin = defaultWindow
	}
	c.recvConn = int32(p.InitialConnectionWindowSize)
	if c.recvConn == 0 {
		c.recvConn = defaultWindow
	}
	c.connWin = c.recvConn
	c.peer = []byte(peerHost(nc.RemoteAddr()))
	c.br = bufio.NewReaderSize(nc, 32<<10)
	c.fr = http2.NewFramer(nil, c.br)
	c.fr.SetMaxReadFrameSize(16 << 10)
	c.fr.SetReuseFrames()
	c.dec = hpack.NewDecoder(4096, c.onField)
	c.dec.SetMaxStringLength(maxHeaderBytes)
	return c
}

// peerHost is the IP of a TCP address as text, or "".
func peerHost(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	s := a.String()
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		return strings.Trim(s[:i], "[]")
	}
	return ""
}

// serve runs the connection: the server's SETTINGS, then the client's
// frames, until the client leaves, a connection error, the idle timeout,
// or a drain with no stream left.
func (c *conn) serve() {
	c.mu.Lock()
	settings := []http2.Setting{{ID: http2.SettingMaxFrameSize, Val: 16 << 10},
		{ID: http2.SettingMaxConcurrentStreams, Val: c.maxStreams},
		{ID: http2.SettingInitialWindowSize, Val: uint32(c.streamWin)},
		{ID: http2.SettingMaxHeaderListSize, Val: maxHeaderBytes}}
	if c.connect {
		settings = append(settings, http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1})
	}
	c.writeSettings(settings...)
	if c.recvConn > 65535 {
		c.writeWindowUpdate(0, uint32(c.recvConn-65535))
	}
	c.flushLocked()
	c.mu.Unlock()
	c.drainStop = context.AfterFunc(c.ctx, c.drain)
	if c.idle > 0 {
		c.idleTimer = time.AfterFunc(c.idle, c.onIdle)
	}
	err := c.loop()
	c.end(err)
}

// loop reads and handles frames until an error ends the connection.
func (c *conn) loop() error {
	for {
		if !c.frameBuffered() {
			// About to wait for the client: send what is queued first.
			if err := c.flush(); err != nil {
				return err
			}
		}
		f, err := c.fr.ReadFrame()
		if err == nil {
			err = c.handle(f)
		}
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				c.resetStream(se.StreamID, se.Code)
				continue
			}
			return err
		}
	}
}

// frameBuffered reports whether a whole frame is buffered, so reading it
// will not block.
func (c *conn) frameBuffered() bool {
	n := c.br.Buffered()
	if n < 9 {
		return false
	}
	h, _ := c.br.Peek(9)
	return n >= 9+(int(h[0])<<16|int(h[1])<<8|int(h[2]))
}

// handle handles one frame. A [http2.StreamError] resets that stream; any
// other error ends the connection.
func (c *conn) handle(f http2.Frame) error {
	if !c.sawSettings {
		if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		c.sawSettings = true
	}
	switch f := f.(type) {
	case *http2.DataFrame:
		return c.onData(f)
	case *http2.HeadersFrame:
		return c.onHeaders(f)
	case *http2.ContinuationFrame:
		return c.onContinuation(f)
	case *http2.SettingsFrame:
		return c.onSettings(f)
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdate(f)
	case *http2.RSTStreamFrame:
		return c.onReset(f)
	case *http2.PingFrame:
		if f.IsAck() {
			return nil
		}
		return c.control(func() { c.writePingAck(f.Data) })
	case *http2.PriorityFrame:
		if f.StreamDep == f.StreamID {
			return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeProtocol}
		}
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol)
	case *http2.GoAwayFrame:
		// The client opens no more streams; those in progress complete.
	}
	return nil
}

// control queues a control frame in answer to the client: beyond
// maxOutput queued (a client that sends but does not read), the
// connection ends.
func (c *conn) control(write func()) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.out) > maxOutput {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	write()
	return nil
}

// onSettings applies the client's settings and acknowledges them.
func (c *conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingInitialWindowSize:
			return c.setPeerWindow(int32(s.Val))
		case http2.SettingMaxFrameSize:
			c.peerFrame = s.Val
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(c.out) > maxOutput {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	c.writeSettingsAck()
	return nil
}

// setPeerWindow changes every stream's send window by the difference to
// the client's new initial window (RFC 9113 6.9.2); c.mu is held.
func (c *conn) setPeerWindow(w int32) error {
	delta := int64(w) - int64(c.peerWin)
	c.peerWin = w
	for _, st := range c.streams {
		n := int64(st.sendWin) + delta
		if n > maxWindow {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		st.sendWin = int32(n)
		st.signal()
	}
	return nil
}

// onWindowUpdate grows the connection's or a stream's send window.
func (c *conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	inc := int64(f.Increment)
	if f.StreamID == 0 {
		if int64(c.sendConn)+inc > maxWindow {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		c.sendConn += int32(inc)
		c.wake(&c.winWait)
		return nil
	}
	if f.StreamID > c.lastID {
		return http2.ConnectionError(http2.ErrCodeProtocol) // idle stream
	}
	st := c.streams[f.StreamID]
	if st == nil || st.rst {
		return nil
	}
	if int64(st.sendWin)+inc > maxWindow {
		return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeFlowControl}
	}
	st.sendWin += int32(inc)
	st.signal()
	return nil
}

// onReset ends a stream the client reset, counting it against the rapid
// reset bound.
func (c *conn) onReset(f *http2.RSTStreamFrame) error {
	if f.StreamID > c.lastID {
		return http2.ConnectionError(http2.ErrCodeProtocol) // idle stream
	}
	c.mu.Lock()
	st := c.streams[f.StreamID]
	if st != nil && !st.rst {
		st.rst, st.rstCode = true, f.ErrCode
		st.signal()
	}
	c.mu.Unlock()
	return c.countReset()
}

// countReset counts a stream reset or refused; too many in a second is a
// rapid reset attack (CVE-2023-44487) and ends the connection.
func (c *conn) countReset() error {
	now := time.Now()
	if now.Sub(c.resetsSince) > time.Second {
		c.resets, c.resetsSince = 0, now
	}
	if c.resets++; c.resets > maxResets {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	return nil
}

// resetStream resets stream id with code, as this side's stream error.
func (c *conn) resetStream(id uint32, code http2.ErrCode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.streams[id]; st != nil && !st.rst {
		st.rst, st.rstCode = true, code
		st.signal()
	}
	c.writeRST(id, code)
}
