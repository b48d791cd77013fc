package l7

import "github.com/meshlb/meshlb/internal/ascii"

// tokenChars marks the bytes allowed in an HTTP token (RFC 9110 5.6.2).
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenChars[c] {
			return false
		}
	}
	return true
}

// validValue rejects control characters other than HTAB in a field value.
func validValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold reports whether b equals lower ignoring ASCII case; lower must
// be lower case.
func equalFold(b []byte, lower string) bool { return ascii.EqualFoldLower(b, lower) }

// parseLength parses a Content-Length value: digits only, at most 18 of
// them so the result cannot overflow.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// cutComma splits a comma-separated list element off b, trimmed.
func cutComma(b []byte) (tok, rest []byte) {
	for i, c := range b {
		if c == ',' {
			return trimOWS(b[:i]), b[i+1:]
		}
	}
	return trimOWS(b), nil
}

// skipBWS drops the "bad" whitespace RFC 9110 5.6.3 allows around
// separators from the start of b.
func skipBWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// tokenLen is the length of the token at the start of b.
func tokenLen(b []byte) int {
	for i, c := range b {
		if !tokenChars[c] {
			return i
		}
	}
	return len(b)
}

// quotedLen is the length of the quoted-string at the start of b, which
// starts with a quote, or -1 if it is not one (RFC 9110 5.6.4).
func quotedLen(b []byte) int {
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			if i++; i == len(b) || !qdChar(b[i]) && b[i] != '"' && b[i] != '\\' {
				return -1
			}
		case !qdChar(c):
			return -1
		}
	}
	return -1
}

// qdChar reports whether c is qdtext: HTAB, SP, VCHAR but the quote and
// the backslash, or obs-text.
func qdChar(c byte) bool {
	return c == '\t' || c == ' ' || c == 0x21 || (0x23 <= c && c <= 0x7e && c != '\\') || c >= 0x80
}
