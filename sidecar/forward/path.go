package forward

// NormalizePath normalizes the request path p in place, as Envoy's
// normalize_path (RFC 3986 section 6.2.2) and merge_slashes do, and
// returns it, shortened: percent-encoded unreserved characters are
// decoded and other escapes upper-cased (6.2.2.1, 6.2.2.2), "." and ".."
// segments are removed (5.2.4; ".." never climbs above the root), and,
// with merge, runs of slashes become one. A path not starting with "/"
// (OPTIONS "*") is returned as is. It never allocates: every step only
// shortens p, so it writes behind what it reads.
func NormalizePath(p []byte, normalize, merge bool) []byte {
	if len(p) == 0 || p[0] != '/' {
		return p
	}
	if normalize {
		p = decodeUnreserved(p)
	}
	return removeDots(p, normalize, merge)
}

// decodeUnreserved decodes %XX escapes of unreserved characters and
// upper-cases the hex digits of the others, in place.
func decodeUnreserved(b []byte) []byte {
	w := 0
	for r := 0; r < len(b); r++ {
		c := b[r]
		if c == '%' && r+2 < len(b) && isHex(b[r+1]) && isHex(b[r+2]) {
			v := unhex(b[r+1])<<4 | unhex(b[r+2])
			if isUnreserved(v) {
				b[w] = v
				w++
			} else {
				b[w], b[w+1], b[w+2] = '%', upperHex(b[r+1]), upperHex(b[r+2])
				w += 3
			}
			r += 2
			continue
		}
		b[w] = c
		w++
	}
	return b[:w]
}

// removeDots walks the segments of b (which starts with "/"), dropping
// "." and ".." (when dots) and empty segments (when merge), in place.
func removeDots(b []byte, dots, merge bool) []byte {
	out := b[:0]
	for i := 0; i < len(b); {
		j := i + 1
		for j < len(b) && b[j] != '/' {
			j++
		}
		seg, last := b[i+1:j], j == len(b)
		switch {
		case merge && len(seg) == 0 && !last:
		case dots && len(seg) == 1 && seg[0] == '.':
			if last {
				out = append(out, '/')
			}
		case dots && len(seg) == 2 && seg[0] == '.' && seg[1] == '.':
			for len(out) > 0 && out[len(out)-1] != '/' {
				out = out[:len(out)-1]
			}
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, '/')
			}
		default:
			out = append(out, b[i:j]...)
		}
		i = j
	}
	if len(out) == 0 {
		out = append(out, '/')
	}
	return out
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// isUnreserved reports whether c is an RFC 3986 unreserved character.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
