// Package ascii holds the byte-level string helpers the HTTP codec and the
// router share. None of them allocates.
package ascii

// EqualFoldLower reports whether b equals lower, ignoring ASCII case in b.
// lower must already be lower case.
func EqualFoldLower(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
