package h2

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/meshlb/meshlb/internal/ascii"
	"github.com/meshlb/meshlb/sidecar/route"
)

// The request pseudo-header fields (RFC 9113 8.3.1; :protocol, RFC 8441).
const (
	pMethod = iota
	pScheme
	pAuthority
	pPath
	pProtocol
	numPseudo
)

// headerBlock is the header block being decoded (HEADERS and its
// CONTINUATIONs): a new stream's head or a stream's trailers.
type headerBlock struct {
	st       *stream // nil: decoded (HPACK state) and dropped
	end      bool    // END_STREAM
	trailers bool
	refused  bool // beyond max_concurrent_streams
	bytes    int  // encoded
	frames   int
	size     int // decoded, as SETTINGS_MAX_HEADER_LIST_SIZE counts
	tooLarge bool
	bad      bool // malformed (RFC 9113 8.1.1)
	regular  bool // a regular field was seen
}

func connError(code http2.ErrCode) error { return http2.ConnectionError(code) }

// onHeaders starts a header block: a new stream's head, or trailers.
func (c *conn) onHeaders(f *http2.HeadersFrame) error {
	id := f.StreamID
	if id%2 == 0 {
		return connError(http2.ErrCodeProtocol)
	}
	c.block = headerBlock{end: f.StreamEnded()}
	b := &c.block
	if id <= c.lastID {
		c.mu.Lock()
		st := c.streams[id]
		if st == nil || st.rst || st.remoteDone {
			c.mu.Unlock()
			return connError(http2.ErrCodeStreamClosed)
		}
		st.decoding = true
		c.mu.Unlock()
		b.st, b.trailers = st, true
	} else {
		c.mu.Lock()
		c.lastID = id
		goAway, full := c.goAway, uint32(len(c.streams)) >= c.maxStreams
		c.mu.Unlock()
		if !goAway {
			b.st, b.refused = getStream(c, id), full
		}
	}
	if f.HasPriority() && f.Priority.StreamDep == id {
		b.bad = true
	}
	return c.fragment(f.HeaderBlockFragment(), f.HeadersEnded())
}

// onContinuation continues the header block (the Framer checked that it
// follows its HEADERS).
func (c *conn) onContinuation(f *http2.ContinuationFrame) error {
	return c.fragment(f.HeaderBlockFragment(), f.HeadersEnded())
}

// fragment decodes a fragment of the header block, bounded in bytes and
// frames (CONTINUATION flood, CVE-2024-27316), and ends the block when
// ended.
func (c *conn) fragment(frag []byte, ended bool) error {
	b := &c.block
	b.bytes += len(frag)
	if b.frames++; b.bytes > maxBlockBytes || b.frames > maxBlockFrames {
		return connError(http2.ErrCodeEnhanceYourCalm)
	}
	if _, err := c.dec.Write(frag); err != nil {
		return connError(http2.ErrCodeCompression)
	}
	if !ended {
		return nil
	}
	if err := c.dec.Close(); err != nil {
		return connError(http2.ErrCodeCompression)
	}
	return c.endBlock()
}

// onField takes one decoded field of the block into its stream, checking
// it (RFC 9113 8.2, 8.3).
func (c *conn) onField(f hpack.HeaderField) {
	b := &c.block
	if b.size += len(f.Name) + len(f.Value) + 32; b.size > maxHeaderBytes {
		b.tooLarge = true
	}
	st := b.st
	if st == nil || b.bad || b.tooLarge {
		return
	}
	if f.Name != "" && f.Name[0] == ':' {
		b.bad = b.regular || b.trailers || !st.pseudo(f.Name, f.Value)
		return
	}
	b.regular = true
	if !validName(f.Name) || !httpguts.ValidHeaderFieldValue(f.Value) || connectionSpecificString(f.Name) ||
		f.Name == "te" && f.Value != "trailers" {
		b.bad = true
		return
	}
	if b.trailers {
		from := len(st.tarena)
		st.tarena = append(append(st.tarena, f.Name...), f.Value...)
		st.spans = append(st.spans, span{from, from + len(f.Name)}, span{from + len(f.Name), len(st.tarena)})
		return
	}
	switch f.Name {
	case "content-length":
		n, ok := parseLength(f.Value)
		if !ok || st.cl >= 0 && st.cl != n {
			b.bad = true
			return
		}
		st.cl = n
	case "host":
		st.host, st.hasHost = st.add(f.Value), true
		return
	}
	st.spans = append(st.spans, st.add(f.Name), st.add(f.Value))
}

// validName reports whether name is a lower-case field name token.
func validName(name string) bool {
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return httpguts.ValidHeaderFieldName(name)
}

// parseLength parses a content-length value.
func parseLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(v[i]-'0')
	}
	return n, true
}

// add appends v to the arena and returns its span.
func (s *stream) add(v string) span {
	from := len(s.arena)
	s.arena = append(s.arena, v...)
	return span{from, len(s.arena)}
}

// pseudo records a pseudo-header field; false: unknown, repeated, or
// :protocol where extended CONNECT was not advertised.
func (s *stream) pseudo(name, value string) bool {
	var i int
	switch name {
	case ":method":
		i = pMethod
	case ":scheme":
		i = pScheme
	case ":authority":
		i = pAuthority
	case ":path":
		i = pPath
	case ":protocol":
		if !s.c.connect {
			return false
		}
		i = pProtocol
	default:
		return false
	}
	if s.psSeen&(1<<i) != 0 {
		return false
	}
	s.psSeen |= 1 << i
	s.ps[i] = s.add(value)
	return true
}

func (s *stream) has(i int) bool     { return s.psSeen&(1<<i) != 0 }
func (s *stream) cut(sp span) []byte { return s.arena[sp.from:sp.to:sp.to] }

// endBlock acts on a complete header block: it starts the stream, ends
// its body with trailers, or refuses or resets it.
func (c *conn) endBlock() error {
	b := &c.block
	st := b.st
	if st == nil {
		return nil
	}
	id := st.id
	if b.trailers {
		return c.endTrailers(st, b)
	}
	if b.refused {
		putStream(st)
		if err := c.countReset(); err != nil {
			return err
		}
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeRefusedStream}
	}
	if b.bad || !b.tooLarge && !st.build(b.end) {
		putStream(st)
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	if b.tooLarge {
		putStream(st)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.writeHeaders(id, appendStatus(nil, 431), true)
		if !b.end {
			c.writeRST(id, http2.ErrCodeNo)
		}
		return nil
	}
	c.mu.Lock()
	st.sendWin, st.recvWin, st.remoteDone = c.peerWin, c.streamWin, b.end
	c.streams[id] = st
	c.mu.Unlock()
	c.wg.Add(1)
	go c.run(st)
	return nil
}

// endTrailers ends st's request body with the trailer fields decoded.
func (c *conn) endTrailers(st *stream, b *headerBlock) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	st.decoding = false
	if st.released {
		// The stream ended while its trailers were decoded.
		putStream(st)
		return nil
	}
	if b.bad || b.tooLarge || !b.end {
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
	}
	if st.cl >= 0 && st.got != st.cl {
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
	}
	a := st.tarena
	for i := 0; i+1 < len(st.spans); i += 2 {
		n, v := st.spans[i], st.spans[i+1]
		st.trail = append(st.trail, route.Header{Name: a[n.from:n.to:n.to], Value: a[v.from:v.to:v.to]})
	}
	st.spans = st.spans[:0]
	st.remoteDone = true
	st.signal()
	return nil
}

// build makes the request from the decoded head; false: the pseudo-header
// fields are not a valid request's (RFC 9113 8.3.1, RFC 8441 4). end: the
// HEADERS ended the stream.
func (s *stream) build(end bool) bool {
	if !s.has(pMethod) {
		return false
	}
	method := s.cut(s.ps[pMethod])
	connect := string(method) == "CONNECT"
	switch {
	case connect && !s.has(pProtocol):
		if !s.has(pAuthority) || s.has(pScheme) || s.has(pPath) {
			return false
		}
		s.plainConnect = true
	case !s.has(pScheme) || !s.has(pPath) || s.ps[pPath].from == s.ps[pPath].to:
		return false
	case s.has(pProtocol) && !connect:
		return false
	}
	r := &s.req
	r.Method = method
	if s.has(pProtocol) {
		s.extConnect = true
		r.Method = s.cut(s.add("GET"))
		s.webSocketKey()
	}
	if s.has(pAuthority) {
		r.Host = s.cut(s.ps[pAuthority])
	} else if s.hasHost {
		r.Host = s.cut(s.host)
	}
	target := s.cut(s.ps[pPath])
	r.Path, r.Query = target, nil
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		r.Path, r.Query = target[:i:i], target[i+1:]
	}
	s.joinCookies()
	for i := 0; i+1 < len(s.spans); i += 2 {
		name, value := s.cut(s.spans[i]), s.cut(s.spans[i+1])
		switch {
		case ascii.EqualFoldLower(name, "content-type"):
			s.grpc = isGRPC(value)
		case ascii.EqualFoldLower(name, "expect"):
			s.continue100 = ascii.EqualFoldLower(value, "100-continue")
		}
		r.Headers = append(r.Headers, route.Header{Name: name, Value: value})
	}
	s.spans = s.spans[:0]
	s.hasBody = !end && s.cl != 0
	s.continue100 = s.continue100 && s.hasBody
	s.head = string(method) == "HEAD"
	return true
}

// webSocketKey adds a Sec-WebSocket-Key to an extended CONNECT for
// websocket that has none (RFC 8441 5 drops it from HTTP/2), so that the
// HTTP/1.1 upstream's handshake (RFC 6455 4.1) has its nonce.
func (s *stream) webSocketKey() {
	if !ascii.EqualFoldLower(s.cut(s.ps[pProtocol]), "websocket") {
		return
	}
	for i := 0; i < len(s.spans); i += 2 {
		if string(s.cut(s.spans[i])) == "sec-websocket-key" {
			return
		}
	}
	var nonce [16]byte
	binary.LittleEndian.PutUint64(nonce[:], rand.Uint64())
	binary.LittleEndian.PutUint64(nonce[8:], rand.Uint64())
	name := s.add("sec-websocket-key")
	from := len(s.arena)
	s.arena = base64.StdEncoding.AppendEncode(s.arena, nonce[:])
	s.spans = append(s.spans, name, span{from, len(s.arena)})
}

// joinCookies joins split cookie fields into one, as an HTTP/1.1 request
// must carry them (RFC 9113 8.2.3).
func (s *stream) joinCookies() {
	first, n := -1, 0
	for i := 0; i+1 < len(s.spans); i += 2 {
		if string(s.cut(s.spans[i])) == "cookie" {
			if first < 0 {
				first = i
			}
			n++
		}
	}
	if n < 2 {
		return
	}
	from := len(s.arena)
	kept := s.spans[:0]
	for i := 0; i+1 < len(s.spans); i += 2 {
		name, value := s.spans[i], s.spans[i+1]
		if string(s.cut(name)) != "cookie" {
			kept = append(kept, name, value)
			continue
		}
		if len(s.arena) > from {
			s.arena = append(s.arena, "; "...)
		}
		s.arena = append(s.arena, s.arena[value.from:value.to]...)
		if i == first {
			kept = append(kept, name, span{}) // the joined value, below
		}
	}
	for i := 0; i < len(kept); i += 2 {
		if string(s.cut(kept[i])) == "cookie" {
			kept[i+1] = span{from, len(s.arena)}
		}
	}
	s.spans = kept
}

// isGRPC reports whether a content-type is gRPC's: application/grpc,
// alone or followed by "+" or ";".
func isGRPC(ct []byte) bool {
	const g = "application/grpc"
	if len(ct) < len(g) || !ascii.EqualFoldLower(ct[:len(g)], g) {
		return false
	}
	return len(ct) == len(g) || ct[len(g)] == '+' || ct[len(g)] == ';'
}

// connectionSpecific reports whether name is a field HTTP/2 forbids
// (RFC 9113 8.2.2). te is forbidden unless "trailers"; it is never a
// response field.
func connectionSpecific(name []byte) bool {
	switch len(name) {
	case 2:
		return ascii.EqualFoldLower(name, "te")
	case 7:
		return ascii.EqualFoldLower(name, "upgrade")
	case 10:
		return ascii.EqualFoldLower(name, "connection") || ascii.EqualFoldLower(name, "keep-alive")
	case 16:
		return ascii.EqualFoldLower(name, "proxy-connection")
	case 17:
		return ascii.EqualFoldLower(name, "transfer-encoding")
	}
	return false
}

// connectionSpecificString is connectionSpecific for a request's
// lower-case field name, but for te, whose value decides.
func connectionSpecificString(name string) bool {
	switch name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return true
	}
	return false
}
