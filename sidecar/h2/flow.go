package h2

import (
	"golang.org/x/net/http2"
)

// onData takes a DATA frame into its stream's receive buffer, under the
// connection's and the stream's receive windows. The client can send no
// more than the windows this side granted, so a stream buffers at most
// its window.
func (c *conn) onData(f *http2.DataFrame) error {
	id, n := f.StreamID, int32(f.Length)
	if id > c.lastID {
		return http2.ConnectionError(http2.ErrCodeProtocol) // idle stream
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > c.recvConn {
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	c.recvConn -= n
	st := c.streams[id]
	if st == nil || st.rst || st.remoteDone {
		c.giveBackLocked(n)
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeStreamClosed}
	}
	if n > st.recvWin {
		c.giveBackLocked(n)
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeFlowControl}
	}
	st.recvWin -= n
	data := f.Data()
	if pad := n - int32(len(data)); pad > 0 {
		c.consumedLocked(st, pad)
	}
	st.got += int64(len(data))
	if st.cl >= 0 && (st.got > st.cl || f.StreamEnded() && st.got != st.cl) {
		c.giveBackLocked(int32(len(data)))
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	if st.inOff > 0 && st.inOff >= len(st.in)-st.inOff {
		// Drop what ReadBody consumed before the buffer grows: while
		// the upstream reads slower than the client sends, the
		// buffer would otherwise keep the whole body. The unread rest
		// is at most the stream's window, and it moves only when at
		// least as much has been consumed, so each byte moves O(1)
		// times.
		st.in = st.in[:copy(st.in, st.in[st.inOff:])]
		st.inOff = 0
	}
	st.in = append(st.in, data...)
	if f.StreamEnded() {
		st.remoteDone = true
	}
	st.signal()
	return nil
}

// giveBackLocked returns n bytes of the connection's receive window to
// the client, in WINDOW_UPDATEs of at least half the window; c.mu is
// held. It reports whether a frame was queued.
func (c *conn) giveBackLocked(n int32) bool {
	c.unackedConn += n
	if c.unackedConn < c.connWin/2 {
		return false
	}
	c.writeWindowUpdate(0, uint32(c.unackedConn))
	c.recvConn += c.unackedConn
	c.unackedConn = 0
	return true
}

// consumedLocked gives n bytes read from st's buffer back to the
// connection's and st's windows; c.mu is held. It reports whether a
// WINDOW_UPDATE was queued (the caller flushes: the client may be
// waiting for it).
func (c *conn) consumedLocked(st *stream, n int32) bool {
	queued := c.giveBackLocked(n)
	if st.remoteDone {
		return queued
	}
	st.unacked += n
	if st.unacked < c.streamWin/2 {
		return queued
	}
	c.writeWindowUpdate(st.id, uint32(st.unacked))
	st.recvWin += st.unacked
	st.unacked = 0
	return true
}

// emit frames the pending response bytes as DATA under the client's
// connection and stream windows, waiting (at most the idle timeout each
// time) for the windows to open; end ends the stream with the last frame
// (an empty one when nothing is pending). Queued output beyond maxOutput
// is written first.
func (s *stream) emit(end bool) error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if s.rst {
			return errStreamReset
		}
		if c.werr != nil {
			return c.werr
		}
		rest := s.pending[s.pendOff:]
		if s.headPending {
			s.headPending = false
			if end && len(rest) == 0 {
				c.writeHeaders(s.id, s.hbuf, true)
				s.localDone = true
				return nil
			}
			c.writeHeaders(s.id, s.hbuf, false)
		}
		if len(rest) == 0 {
			s.pending, s.pendOff = s.pending[:0], 0
			if end && !s.localDone {
				c.writeData(s.id, nil, true)
				s.localDone = true
			}
			return nil
		}
		n := min(len(rest), int(c.peerFrame), int(s.sendWin), int(c.sendConn))
		if n <= 0 {
			if err := s.waitLocked(c.sendConn <= 0, false); err != nil {
				return err
			}
			continue
		}
		last := end && n == len(rest)
		c.writeData(s.id, rest[:n], last)
		s.sendWin -= int32(n)
		c.sendConn -= int32(n)
		s.pendOff += n
		if last {
			s.localDone = true
		}
		if len(c.out) >= maxOutput {
			if err := s.waitLocked(false, true); err != nil {
				return err
			}
		}
	}
}

// waitLocked flushes the queued output and waits for the stream's signal,
// or the connection's window (connWin) or output drained (out); c.mu is
// held and released while waiting. It fails at the idle timeout.
func (s *stream) waitLocked(connWin, out bool) error {
	c := s.c
	if err := c.flushLocked(); err != nil {
		return err
	}
	if out && len(c.out) < maxOutput {
		return nil
	}
	var ch chan struct{}
	switch {
	case connWin:
		ch = waitOn(&c.winWait)
	case out:
		ch = waitOn(&c.outWait)
	}
	c.mu.Unlock()
	ok := s.ww.await(c.idle, ch)
	c.mu.Lock()
	if !ok {
		return errIdle
	}
	return nil
}
