package format

import "unicode/utf8"

// AppendJSON appends f's value for c as a JSON value: a format that is
// one numeric operator (RESPONSE_CODE, DURATION...) writes a number, and
// one operator with no value writes null, as Envoy's json_format does;
// anything else writes a string. ok is false when the value is empty: null
// or "" (omit_empty_values drops such keys).
func (f *Format) AppendJSON(dst []byte, c *Context) (_ []byte, ok bool) {
	n := len(dst)
	if len(f.parts) == 1 && f.parts[0].op != opLiteral {
		p := &f.parts[0]
		v, ok := p.append(dst, c)
		switch {
		case !ok:
			return append(v[:n], "null"...), false
		case p.numbered:
			return v, true
		}
		if p.max > 0 && len(v)-n > p.max {
			v = v[:n+p.max]
		}
		return quoteTail(v, n), len(v) > n
	}
	v := f.Append(dst, c)
	return quoteTail(v, n), len(v) > n
}

// quoteTail makes dst[n:] a JSON string in place (escaping as needed).
func quoteTail(dst []byte, n int) []byte {
	clean := true
	for _, c := range dst[n:] {
		if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if clean {
		dst = append(dst, 0, 0)
		copy(dst[n+1:], dst[n:len(dst)-2])
		dst[n], dst[len(dst)-1] = '"', '"'
		return dst
	}
	var tmp [256]byte
	raw := append(tmp[:0], dst[n:]...)
	return AppendJSONString(dst[:n], raw)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func AppendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}
