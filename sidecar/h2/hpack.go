package h2

import (
	"strconv"
)

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Response heads are encoded without HPACK's dynamic table: every field is
// a literal without indexing (RFC 7541 6.2.2), its name from the static
// table when there, values raw (no Huffman). This keeps no state between
// heads, so a stream encodes its own without the connection's lock and
// without keeping strings.

// staticNames are the static table's names and their first index (RFC
// 7541 Appendix A).
var staticNames = map[string]uint8{}

func init() {
	for i, n := range []string{":authority", ":method", "", ":path", "", ":scheme", "", ":status", "", "", "", "", "", "",
		"accept-charset", "accept-encoding", "accept-language", "accept-ranges", "accept", "access-control-allow-origin",
		"age", "allow", "authorization", "cache-control", "content-disposition", "content-encoding", "content-language",
		"content-length", "content-location", "content-range", "content-type", "cookie", "date", "etag", "expect",
		"expires", "from", "host", "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
		"last-modified", "link", "location", "max-forwards", "proxy-authenticate", "proxy-authorization", "range",
		"referer", "refresh", "retry-after", "server", "set-cookie", "strict-transport-security", "transfer-encoding",
		"user-agent", "vary", "via", "www-authenticate"} {
		if n != "" {
			staticNames[n] = uint8(i + 1)
		}
	}
}

// appendInt appends v as an HPACK integer with an n-bit prefix, the
// first byte's other bits set from first (RFC 7541 5.1).
func appendInt(dst []byte, n uint, first byte, v uint64) []byte {
	max := uint64(1)<<n - 1
	if v < max {
		return append(dst, first|byte(v))
	}
	dst = append(dst, first|byte(max))
	for v -= max; v >= 128; v >>= 7 {
		dst = append(dst, byte(v&0x7f)|0x80)
	}
	return append(dst, byte(v))
}

// appendStatus appends :status, indexed when the static table has it.
func appendStatus(dst []byte, code int) []byte {
	switch code {
	case 200:
		return append(dst, 0x80|8)
	case 204:
		return append(dst, 0x80|9)
	case 206:
		return append(dst, 0x80|10)
	case 304:
		return append(dst, 0x80|11)
	case 400:
		return append(dst, 0x80|12)
	case 404:
		return append(dst, 0x80|13)
	case 500:
		return append(dst, 0x80|14)
	}
	var num [3]byte
	dst = appendInt(dst, 4, 0, 8)
	v := strconv.AppendInt(num[:0], int64(code), 10)
	dst = appendInt(dst, 7, 0, uint64(len(v)))
	return append(dst, v...)
}

// appendField appends a literal field; the name is lower-cased.
func appendField(dst, name, value []byte) []byte {
	var low [64]byte
	if len(name) <= len(low) {
		l := low[:len(name)]
		for i, c := range name {
			l[i] = lower(c)
		}
		if i := staticNames[string(l)]; i != 0 {
			dst = appendInt(dst, 4, 0, uint64(i))
			dst = appendInt(dst, 7, 0, uint64(len(value)))
			return append(dst, value...)
		}
	}
	dst = append(dst, 0)
	dst = appendInt(dst, 7, 0, uint64(len(name)))
	for _, c := range name {
		dst = append(dst, lower(c))
	}
	dst = appendInt(dst, 7, 0, uint64(len(value)))
	return append(dst, value...)
}

// appendFieldString is appendField for strings.
func appendFieldString(dst []byte, name, value string) []byte {
	return appendField(dst, []byte(name), []byte(value))
}
