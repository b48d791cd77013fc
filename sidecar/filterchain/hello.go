package filterchain

// TLS ClientHello parsing for the TLS inspector (RFC 8446 4.1.2, RFC 6066
// 3 for server_name, RFC 7301 3.1 for ALPN). Only the first TLS record is
// read: a ClientHello continued in a second record (rare, and only with
// very large hellos) is taken as far as the first record holds it.

const (
	recordHandshake   = 22
	handshakeHello    = 1
	extServerName     = 0
	extALPN           = 16
	maxRecordPlain    = 1 << 14
	recordHeaderLen   = 5
	maxHelloRecordLen = recordHeaderLen + maxRecordPlain
)

// helloStatus is the outcome of parsing the first bytes of a connection.
type helloStatus int

const (
	helloNeedMore helloStatus = iota // too few bytes to tell
	helloNotTLS                      // not a TLS handshake record
	helloBad                         // a handshake record, but not a well-formed ClientHello
	helloOK
)

// clientHello is what the filter-chain match needs from a ClientHello.
// Its slices alias the parsed buffer.
type clientHello struct {
	serverName []byte
	alpn       [][]byte
}

// parseClientHello parses the TLS record at the start of b.
func parseClientHello(b []byte, h *clientHello) helloStatus {
	if len(b) >= 1 && b[0] != recordHandshake || len(b) >= 2 && b[1] != 3 {
		return helloNotTLS
	}
	if len(b) < recordHeaderLen {
		return helloNeedMore
	}
	n := int(b[3])<<8 | int(b[4])
	if n == 0 || n > maxRecordPlain {
		return helloBad
	}
	if len(b) < recordHeaderLen+n {
		return helloNeedMore
	}
	c := cursor{b: b[recordHeaderLen : recordHeaderLen+n]}
	if c.u8() != handshakeHello {
		return helloBad
	}
	l := c.u24()
	partial := l > len(c.b) // continued in the next record: take what is here
	if !partial {
		c.b = c.b[:l]
	}
	c.skip(2 + 32)     // legacy_version, random
	c.skip(c.u8())     // legacy_session_id
	c.skip(c.u16())    // cipher_suites
	c.skip(c.u8())     // legacy_compression_methods
	if len(c.b) == 0 { // no extensions (TLS 1.0 style): well formed
		return okUnless(c.bad && !partial)
	}
	exts := cursor{b: c.bytes(c.u16())}
	for len(exts.b) > 0 && !exts.bad {
		typ, data := exts.u16(), cursor{b: exts.bytes(exts.u16())}
		switch typ {
		case extServerName:
			h.serverName = parseServerName(&data)
		case extALPN:
			h.alpn = parseALPN(&data, h.alpn[:0])
		}
		if data.bad {
			exts.bad = true
		}
	}
	return okUnless((c.bad || exts.bad) && !partial)
}

func okUnless(bad bool) helloStatus {
	if bad {
		return helloBad
	}
	return helloOK
}

// parseServerName returns the host_name entry of a server_name extension.
func parseServerName(c *cursor) []byte {
	list := cursor{b: c.bytes(c.u16())}
	for len(list.b) > 0 && !list.bad {
		typ, name := list.u8(), list.bytes(list.u16())
		if typ == 0 && !list.bad {
			return name
		}
	}
	c.bad = c.bad || list.bad
	return nil
}

// parseALPN appends the protocols of an ALPN extension to out.
func parseALPN(c *cursor, out [][]byte) [][]byte {
	list := cursor{b: c.bytes(c.u16())}
	for len(list.b) > 0 && !list.bad {
		if p := list.bytes(list.u8()); len(p) > 0 {
			out = append(out, p)
		}
	}
	c.bad = c.bad || list.bad
	return out
}

// cursor reads big-endian fields; reading past the end sets bad and
// yields zeros.
type cursor struct {
	b   []byte
	bad bool
}

func (c *cursor) bytes(n int) []byte {
	if n > len(c.b) {
		c.bad, c.b = true, nil
		return nil
	}
	out := c.b[:n]
	c.b = c.b[n:]
	return out
}

func (c *cursor) skip(n int) { c.bytes(n) }

func (c *cursor) u8() int {
	b := c.bytes(1)
	if b == nil {
		return 0
	}
	return int(b[0])
}

func (c *cursor) u16() int {
	b := c.bytes(2)
	if b == nil {
		return 0
	}
	return int(b[0])<<8 | int(b[1])
}

func (c *cursor) u24() int {
	b := c.bytes(3)
	if b == nil {
		return 0
	}
	return int(b[0])<<16 | int(b[1])<<8 | int(b[2])
}
