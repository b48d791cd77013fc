package h2

import (
	"encoding/binary"
	"runtime"
	"time"

	"golang.org/x/net/http2"
)

// maxOutput bounds the bytes queued for the client: a stream that would
// queue more waits for the socket (bounded by the idle timeout), and a
// client whose control frames (PING, SETTINGS) would overflow it is cut
// off, so a client that never reads does not pin memory.
const maxOutput = 256 << 10

// maxWriteWait bounds a write to the client when the stream idle timeout
// is off.
const maxWriteWait = 5 * time.Minute

// appendFrameHeader appends a frame header (RFC 9113 4.1) to dst.
func appendFrameHeader(dst []byte, length int, t http2.FrameType, flags http2.Flags, id uint32) []byte {
	return append(dst, byte(length>>16), byte(length>>8), byte(length), byte(t), byte(flags),
		byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
}

// The write* methods queue a frame; c.mu must be held.

func (c *conn) writeSettings(s ...http2.Setting) {
	c.out = appendFrameHeader(c.out, 6*len(s), http2.FrameSettings, 0, 0)
	for _, st := range s {
		c.out = binary.BigEndian.AppendUint16(c.out, uint16(st.ID))
		c.out = binary.BigEndian.AppendUint32(c.out, st.Val)
	}
}

func (c *conn) writeSettingsAck() {
	c.out = appendFrameHeader(c.out, 0, http2.FrameSettings, http2.FlagSettingsAck, 0)
}

func (c *conn) writePingAck(data [8]byte) {
	c.out = appendFrameHeader(c.out, 8, http2.FramePing, http2.FlagPingAck, 0)
	c.out = append(c.out, data[:]...)
}

func (c *conn) writeWindowUpdate(id uint32, n uint32) {
	c.out = appendFrameHeader(c.out, 4, http2.FrameWindowUpdate, 0, id)
	c.out = binary.BigEndian.AppendUint32(c.out, n)
}

func (c *conn) writeRST(id uint32, code http2.ErrCode) {
	c.out = appendFrameHeader(c.out, 4, http2.FrameRSTStream, 0, id)
	c.out = binary.BigEndian.AppendUint32(c.out, uint32(code))
}

func (c *conn) writeGoAway(last uint32, code http2.ErrCode) {
	c.out = appendFrameHeader(c.out, 8, http2.FrameGoAway, 0, 0)
	c.out = binary.BigEndian.AppendUint32(c.out, last)
	c.out = binary.BigEndian.AppendUint32(c.out, uint32(code))
}

func (c *conn) writeData(id uint32, p []byte, end bool) {
	var flags http2.Flags
	if end {
		flags = http2.FlagDataEndStream
	}
	c.out = appendFrameHeader(c.out, len(p), http2.FrameData, flags, id)
	c.out = append(c.out, p...)
}

// writeHeaders queues a header block as HEADERS and CONTINUATION frames
// of at most the client's SETTINGS_MAX_FRAME_SIZE.
func (c *conn) writeHeaders(id uint32, block []byte, end bool) {
	t, flags := http2.FrameHeaders, http2.Flags(0)
	if end {
		flags = http2.FlagHeadersEndStream
	}
	for {
		frag := block[:min(len(block), int(c.peerFrame))]
		block = block[len(frag):]
		if len(block) == 0 {
			flags |= http2.FlagHeadersEndHeaders
		}
		c.out = appendFrameHeader(c.out, len(frag), t, flags, id)
		c.out = append(c.out, frag...)
		if len(block) == 0 {
			return
		}
		t, flags = http2.FrameContinuation, 0
	}
}

// flushLocked writes the queued output, unless another goroutine is
// writing: that one writes what was queued meanwhile before it stops, so
// concurrent streams share write calls. c.mu must be held; it is released
// during the write. It returns the connection's write error, if any.
func (c *conn) flushLocked() error {
	for !c.writing && !c.yielding && len(c.out) > 0 && c.werr == nil {
		c.writing = true
		buf := c.out
		c.out = c.spare[:0]
		c.mu.Unlock()
		c.armWrite()
		_, err := c.nc.Write(buf)
		c.mu.Lock()
		c.writing = false
		if cap(buf) <= 2*maxOutput {
			c.spare = buf[:0]
		} else {
			c.spare = nil
		}
		if err != nil {
			c.werr = err
			c.failLocked()
		}
		c.wake(&c.outWait)
	}
	return c.werr
}

// flushBatched is flush for a stream's goroutine. When other streams of
// the connection are in progress it first lets the goroutines that are
// ready run (runtime.Gosched), so that responses completing together
// (their upstream replies came in the same poll) share one write call
// instead of one each; meanwhile the others leave the writing to it.
func (c *conn) flushBatched() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.streams) > 1 && !c.writing && !c.yielding && len(c.out) > 0 {
		c.yielding = true
		c.mu.Unlock()
		runtime.Gosched()
		c.mu.Lock()
		c.yielding = false
		c.wake(&c.outWait)
	}
	return c.flushLocked()
}

// flush is flushLocked for a caller without c.mu.
func (c *conn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked()
}

// armWrite pushes the socket's write deadline on to 1.5 idle timeouts
// from now when less than one is left, so a client that stops reading
// fails the connection between one and 1.5 timeouts later.
func (c *conn) armWrite() {
	idle := c.idle
	if idle <= 0 {
		idle = maxWriteWait
	}
	now := time.Now()
	if dl := c.wdl.Load(); dl != 0 && time.Duration(dl-now.UnixNano()) > idle {
		return
	}
	d := now.Add(idle * 3 / 2)
	c.wdl.Store(d.UnixNano())
	c.nc.SetWriteDeadline(d)
}

// wake closes *ch, if any goroutine waits on it, and forgets it; c.mu must
// be held.
func (c *conn) wake(ch *chan struct{}) {
	if *ch != nil {
		close(*ch)
		*ch = nil
	}
}

// waitOn returns the channel *ch, making it; c.mu must be held.
func waitOn(ch *chan struct{}) chan struct{} {
	if *ch == nil {
		*ch = make(chan struct{})
	}
	return *ch
}
