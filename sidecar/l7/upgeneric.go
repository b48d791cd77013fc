package l7

import (
	"io"
	"strconv"

	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/route"
)

// The HTTP/1 upstream codec's generic path, for a [forward.Stream] of any
// other server codec: the request body comes decoded from st.ReadBody and
// is framed here, the response body is decoded here and goes to
// st.WriteBody.

// sendGeneric writes st's request head, as rt rewrites it, and its body,
// framed by length when the request says Content-Length, else chunked.
// X-Forwarded-For is passed on as received: the stream has no peer
// address to append.
func (u *upstream) sendGeneric(st forward.Stream, rt *route.Route) error {
	r, w := st.Request(), &u.out
	length := u.writeGenericHead(r, rt)
	fr := st.Framing()
	if fr.Upgrade {
		// The other codec's upgrade (HTTP/2 extended CONNECT) in HTTP/1.1's
		// words.
		w.writeString("Connection: Upgrade\r\nUpgrade: ")
		w.write(fr.UpgradeType)
		w.writeString("\r\n")
	}
	switch {
	case !fr.HasBody:
		w.writeString("\r\n")
		return w.flush()
	case length >= 0:
		w.writeString("Content-Length: ")
		w.write(strconv.AppendInt(u.num[:0], length, 10))
		w.writeString("\r\n\r\n")
	default:
		w.writeString("Transfer-Encoding: chunked\r\n\r\n")
	}
	if err := u.sendBody(st, length < 0); err != nil {
		return err
	}
	return w.flush()
}

// writeGenericHead writes the request line and headers, without the empty
// line, and returns the request's Content-Length (-1: none or invalid).
func (u *upstream) writeGenericHead(r *route.Request, rt *route.Route) int64 {
	w := &u.out
	w.write(r.Method)
	w.writeString(" ")
	if rt.Rewrite != nil {
		w.writeString(*rt.Rewrite)
		w.write(r.Path[len(rt.Prefix):])
	} else {
		w.write(r.Path)
	}
	if r.Query != nil {
		w.writeString("?")
		w.write(r.Query)
	}
	w.writeString(" HTTP/1.1\r\nHost: ")
	if rt.HostRewrite != "" {
		w.writeString(rt.HostRewrite)
	} else {
		w.write(r.Host)
	}
	w.writeString("\r\n")
	length, xfp := int64(-1), false
	for _, f := range r.Headers {
		switch {
		case equalFold(f.Name, "content-length"):
			if n, ok := parseLength(f.Value); ok {
				length = n
			}
			continue
		case equalFold(f.Name, "host"), equalFold(f.Name, "connection"),
			equalFold(f.Name, "transfer-encoding"), isHopByHop(f.Name):
			continue
		case equalFold(f.Name, "x-forwarded-proto"):
			xfp = true
		}
		w.write(f.Name)
		w.writeString(": ")
		w.write(f.Value)
		w.writeString("\r\n")
	}
	if !xfp {
		w.writeString("X-Forwarded-Proto: http\r\n")
	}
	return length
}

// sendBody copies st's request body to the upstream, as chunks when
// chunked, with the trailers after the last chunk.
func (u *upstream) sendBody(st forward.Stream, chunked bool) error {
	pb := getBuf()
	defer putBuf(pb)
	w := &u.out
	for {
		n, err := st.ReadBody(*pb)
		if n > 0 {
			if chunked {
				w.write(strconv.AppendInt(u.num[:0], int64(n), 16))
				w.writeString("\r\n")
			}
			if werr := w.write((*pb)[:n]); werr != nil {
				return werr
			}
			if chunked {
				w.writeString("\r\n")
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if !chunked {
		return nil
	}
	w.writeString("0\r\n")
	u.hdrs = st.Trailers(u.hdrs[:0])
	for _, t := range u.hdrs {
		w.write(t.Name)
		w.writeString(": ")
		w.write(t.Value)
		w.writeString("\r\n")
	}
	return w.writeString("\r\n")
}

// writeHeadGeneric writes the response head to st without the HTTP/1
// framing header Transfer-Encoding: st's codec frames the body itself.
// Content-Length stays, as the length it will carry.
func (u *upstream) writeHeadGeneric(st forward.Stream, closing bool) {
	u.hdrs = u.Headers(u.hdrs[:0])
	kept := u.hdrs[:0]
	for _, h := range u.hdrs {
		if !equalFold(h.Name, "transfer-encoding") {
			kept = append(kept, h)
		}
	}
	r := &u.resp
	st.WriteHead(r.status, r.line[min(4, len(r.line)):], kept, closing)
}

// copyGeneric decodes the response body (length, chunked or until the
// connection closes) and writes it, then its trailers, to st.
func (u *upstream) copyGeneric(st forward.Stream, bodyless bool) error {
	r := &u.resp
	if bodyless {
		return st.Flush()
	}
	u.body.start(&u.rd, r.chunked, r.length)
	pb := getBuf()
	defer putBuf(pb)
	for {
		n, err := u.body.Read(*pb)
		if n > 0 {
			if werr := st.WriteBody((*pb)[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if len(u.rd.buffered()) == 0 && !u.body.whole() {
			// Stream rather than hold bytes while the upstream is quiet
			// (not when the body is whole: its end goes with it).
			if err := st.Flush(); err != nil {
				return err
			}
		}
	}
	u.hdrs = u.body.Trailers(u.hdrs[:0])
	if err := st.WriteTrailers(u.hdrs); err != nil {
		return err
	}
	return st.Flush()
}
