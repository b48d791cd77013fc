package grpcstats

import (
	"encoding/binary"
	"testing"
)

// msg is one length-prefixed gRPC message of n payload bytes.
func msg(n int) []byte {
	b := binary.BigEndian.AppendUint32([]byte{0}, uint32(n))
	return append(b, make([]byte, n)...)
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestFrames: messages are counted when their first byte arrives, however
// the body is cut into chunks: inside a prefix, at a payload's end, with
// empty messages, and a message whose prefix alone has come.
func TestFrames(t *testing.T) {
	body := cat(msg(3), msg(0), msg(70000), msg(1), msg(0))
	tests := []struct {
		name  string
		body  []byte
		chunk int
		want  uint64
	}{
		{"empty", nil, 1, 0},
		{"one whole", msg(5), 1 << 20, 1},
		{"five whole", body, 1 << 20, 5},
		{"byte by byte", body, 1, 5},
		{"chunks of 3", body, 3, 5},
		{"chunks of 16 KiB", body, 16 << 10, 5},
		{"empty messages", cat(msg(0), msg(0), msg(0)), 2, 3},
		{"a prefix alone", msg(0)[:2], 1, 1},
		{"a started message", cat(msg(10), msg(10)[:7]), 4, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f frames
			var got uint64
			for b := tt.body; len(b) > 0; {
				k := min(tt.chunk, len(b))
				got += f.count(b[:k])
				b = b[k:]
			}
			if got != tt.want {
				t.Errorf("counted %d messages, want %d", got, tt.want)
			}
		})
	}
}

func BenchmarkFrames(b *testing.B) {
	chunk := cat(msg(100), msg(200), msg(16000))
	b.ReportAllocs()
	b.SetBytes(int64(len(chunk)))
	var f frames
	for b.Loop() {
		f.count(chunk)
	}
}
