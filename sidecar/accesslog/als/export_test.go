package als

import "sync/atomic"

type atomicCounter = atomic.Uint64

// compact removes the doubled spaces protobuf's text output may hold.
func compact(s string) string {
	out := []byte{}
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' && len(out) > 0 && out[len(out)-1] == ' ' {
			continue
		}
		out = append(out, s[i])
	}
	return string(out)
}
