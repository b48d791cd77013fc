package h2

import (
	"errors"
	"time"

	"golang.org/x/net/http2"

	"github.com/meshlb/meshlb/sidecar/forward"
)

// run serves one stream on its own goroutine: the forwarder, then the
// stream's end.
func (c *conn) run(st *stream) {
	defer c.wg.Done()
	cfg := c.srv.cfg.Load()
	st.cfg = cfg
	if st.plainConnect {
		st.Reply(forward.LocalReply{Code: 403, Body: "CONNECT is not allowed\n"})
	} else {
		forward.Serve(&cfg.Config, st)
	}
	c.finishStream(st)
}

// finishStream ends st's response if the forwarder left it open, or
// resets the stream when a response started and could not be completed
// (so the client cannot take a truncated body for whole), or when the
// client has not finished a request body nobody reads any more (RST_STREAM
// NO_ERROR, RFC 9113 8.1). Then the stream leaves the connection.
func (c *conn) finishStream(st *stream) {
	broken := st.broken()
	if !broken && !st.ended {
		st.emit(true)
	}
	c.mu.Lock()
	switch {
	case st.rst:
	case broken:
		c.writeRST(st.id, http2.ErrCodeInternal)
	case !st.remoteDone:
		c.writeRST(st.id, http2.ErrCodeNo)
	}
	st.rst = true
	if unread := len(st.in) - st.inOff; unread > 0 {
		c.giveBackLocked(int32(unread))
	}
	delete(c.streams, st.id)
	c.lastActive = st.fs.Now
	if c.goAway && len(c.streams) == 0 {
		c.nc.SetReadDeadline(time.Now()) // the drain is complete: wake the reader
	}
	c.flushLocked()
	decoding := st.decoding
	st.released = decoding
	c.mu.Unlock()
	if !decoding {
		putStream(st)
	}
}

// drain sends GOAWAY (the listener drains): no new streams, and the
// connection closes once the streams in progress complete.
func (c *conn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.goAwayLocked()
}

// onIdle ends a connection that carried no stream for the idle timeout.
func (c *conn) onIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.goAway {
		return
	}
	if len(c.streams) > 0 {
		c.idleTimer.Reset(c.idle)
		return
	}
	if since := time.Since(c.lastActive); since < c.idle {
		c.idleTimer.Reset(c.idle - since)
		return
	}
	c.goAwayLocked()
}

// goAwayLocked sends GOAWAY NO_ERROR once and wakes the reader if no
// stream is left; c.mu is held.
func (c *conn) goAwayLocked() {
	if c.closed || c.goAway {
		return
	}
	c.goAway = true
	c.writeGoAway(c.lastID, http2.ErrCodeNo)
	if len(c.streams) == 0 {
		c.nc.SetReadDeadline(time.Now())
	}
	c.flushLocked()
}

// failLocked ends every wait on the connection: each stream is reset;
// c.mu is held.
func (c *conn) failLocked() {
	c.closed = true
	if c.werr == nil {
		c.werr = errConnClosed
	}
	for _, st := range c.streams {
		if !st.rst {
			st.rst, st.rstCode = true, http2.ErrCodeCancel
		}
		st.signal()
	}
	c.wake(&c.winWait)
	c.wake(&c.outWait)
}

// flushAllLocked writes all queued output, waiting for a goroutine that
// is writing to finish first (its write is bounded by the write
// deadline); c.mu is held.
func (c *conn) flushAllLocked() {
	for (c.writing || c.yielding) && c.werr == nil {
		ch := waitOn(&c.outWait)
		c.mu.Unlock()
		<-ch
		c.mu.Lock()
	}
	c.flushLocked()
}

var (
	errConnClosed  = errors.New("h2: connection closed")
	errStreamReset = errors.New("h2: stream reset")
	errIdle        = errors.New("h2: stream idle timeout")
)

// end finishes the connection after its loop returned err: a connection
// error is sent as GOAWAY before the close; the streams' goroutines are
// waited for.
func (c *conn) end(err error) {
	c.drainStop()
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
	var ce http2.ConnectionError
	isConnErr := errors.As(err, &ce)
	if errors.Is(err, http2.ErrFrameTooLarge) {
		ce, isConnErr = http2.ConnectionError(http2.ErrCodeFrameSize), true
	}
	c.mu.Lock()
	if isConnErr && c.werr == nil {
		c.writeGoAway(c.lastID, http2.ErrCode(ce))
		c.goAway = true
	}
	c.flushAllLocked()
	c.failLocked()
	c.mu.Unlock()
	if isConnErr {
		lingerClose(c.nc)
	} else {
		c.nc.Close()
	}
	c.wg.Wait()
}
