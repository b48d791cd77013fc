package l7

import "bytes"

// chunkSize parses a chunk-size line, CRLF excluded: "1*HEXDIG
// [ chunk-ext ]" (RFC 9112 7.1). Anything else is errBadChunk (issue 7,
// item 5): a line an upstream might read differently must not be relayed.
func chunkSize(line []byte) (int64, error) {
	var n int64
	i := 0
	for ; i < len(line); i++ {
		d := unhex(line[i])
		if d < 0 {
			break
		}
		if i == 15 {
			return 0, errBadChunk
		}
		n = n<<4 | int64(d)
	}
	if i == 0 || !validChunkExt(line[i:]) {
		return 0, errBadChunk
	}
	return n, nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// validChunkExt reports whether b is a chunk-ext:
//
//	*( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )
//
// Trailing BWS is accepted too, as HAProxy and nginx do: it cannot be read
// two ways.
func validChunkExt(b []byte) bool {
	for {
		b = skipBWS(b)
		if len(b) == 0 {
			return true
		}
		if b[0] != ';' {
			return false
		}
		b = skipBWS(b[1:])
		k := tokenLen(b)
		if k == 0 {
			return false
		}
		b = skipBWS(b[k:])
		if len(b) == 0 || b[0] != '=' {
			continue
		}
		b = skipBWS(b[1:])
		if len(b) > 0 && b[0] == '"' {
			k = quotedLen(b)
		} else {
			k = tokenLen(b)
		}
		if k <= 0 {
			return false
		}
		b = b[k:]
	}
}

// validTrailer reports whether line is a well-formed field line.
func validTrailer(line []byte) bool {
	colon := bytes.IndexByte(line, ':')
	return colon > 0 && isToken(line[:colon]) && validValue(line[colon+1:])
}
