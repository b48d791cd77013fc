// Package h2ws is a WebSocket client over an HTTP/2 stream (RFC 8441
// extended CONNECT), driven frame by frame with golang.org/x/net/http2's
// Framer, for tests of servers that relay it. It speaks h2c with prior
// knowledge and opens one stream; messages are single unfragmented
// binary frames.
package h2ws

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Conn is the client's side of the tunnel. Not safe for concurrent use.
type Conn struct {
	fr  *http2.Framer
	id  uint32
	buf []byte
}

// Result is what the server answered an extended CONNECT.
type Result struct {
	// ConnectProtocol: the server's SETTINGS had
	// SETTINGS_ENABLE_CONNECT_PROTOCOL 1.
	ConnectProtocol bool
	Status          string // the response's :status
}

// Dial sends the client preface on c and an extended CONNECT for
// websocket on path, and returns the server's answer and, when it is 200,
// the tunnel. c's deadlines bound every read and write.
func Dial(c net.Conn, path string) (Result, *Conn, error) {
	var res Result
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return res, nil, err
	}
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.WriteSettings()
	f, err := fr.ReadFrame()
	if err != nil {
		return res, nil, fmt.Errorf("reading SETTINGS: %w", err)
	}
	if sf, ok := f.(*http2.SettingsFrame); ok {
		v, has := sf.Value(http2.SettingEnableConnectProtocol)
		res.ConnectProtocol = has && v == 1
	}
	fr.WriteSettingsAck()
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, kv := range [][2]string{{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "http"},
		{":authority", "ws"}, {":path", path}, {"sec-websocket-version", "13"}, {"origin", "http://ws"}} {
		enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndHeaders: true}); err != nil {
		return res, nil, err
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return res, nil, fmt.Errorf("waiting for the response head: %w", err)
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 {
				res.Status = f.PseudoValue("status")
				return res, &Conn{fr: fr, id: 1}, nil
			}
		case *http2.RSTStreamFrame:
			return res, nil, fmt.Errorf("stream reset: %v", f.ErrCode)
		}
	}
}

// Read implements io.Reader: the tunnel's bytes, giving the windows back.
func (w *Conn) Read(p []byte) (int, error) {
	for len(w.buf) == 0 {
		f, err := w.fr.ReadFrame()
		if err != nil {
			return 0, err
		}
		switch f := f.(type) {
		case *http2.DataFrame:
			if f.StreamID != w.id {
				continue
			}
			w.buf = append(w.buf, f.Data()...)
			if n := uint32(len(f.Data())); n > 0 {
				w.fr.WriteWindowUpdate(0, n)
				w.fr.WriteWindowUpdate(w.id, n)
			}
			if len(w.buf) == 0 && f.StreamEnded() {
				return 0, io.EOF
			}
		case *http2.RSTStreamFrame:
			return 0, fmt.Errorf("stream reset: %v", f.ErrCode)
		}
	}
	n := copy(p, w.buf)
	w.buf = w.buf[n:]
	return n, nil
}

// Send writes msg (at most 64 KiB) as one masked binary message (RFC 6455
// 5.2) in one DATA frame.
func (w *Conn) Send(msg []byte) error {
	h := []byte{0x82, 0x80 | 126}
	h = binary.BigEndian.AppendUint16(h, uint16(len(msg)))
	mask := [4]byte{7, 1, 9, 3}
	h = append(h, mask[:]...)
	for i, c := range msg {
		h = append(h, c^mask[i%4])
	}
	return w.fr.WriteData(w.id, false, h)
}

// Receive reads one unmasked message's payload.
func (w *Conn) Receive() ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(w, h[:]); err != nil {
		return nil, err
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var ext [2]byte
		if _, err := io.ReadFull(w, ext[:]); err != nil {
			return nil, err
		}
		n = int(binary.BigEndian.Uint16(ext[:]))
	}
	msg := make([]byte, n)
	_, err := io.ReadFull(w, msg)
	return msg, err
}

// CloseSend ends the client's side of the stream (END_STREAM).
func (w *Conn) CloseSend() error { return w.fr.WriteData(w.id, true, nil) }
