package l7

import (
	"io"
	"net"
	"time"
)

// sliceConn is a net.Conn over a byte slice, for codec fuzzing: Read
// returns data in small pieces, Write appends to out.
type sliceConn struct {
	data []byte
	out  []byte
}

func (c *sliceConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 7)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func (c *sliceConn) Write(p []byte) (int, error)      { c.out = append(c.out, p...); return len(p), nil }
func (c *sliceConn) Close() error                     { return nil }
func (c *sliceConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *sliceConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *sliceConn) SetDeadline(time.Time) error      { return nil }
func (c *sliceConn) SetReadDeadline(time.Time) error  { return nil }
func (c *sliceConn) SetWriteDeadline(time.Time) error { return nil }
