package grpcstats

// frames counts gRPC length-prefixed messages in a body that arrives in
// chunks of any size (gRPC over HTTP/2: a 1-byte compressed flag and a
// 4-byte big-endian length before each message). A message counts when
// its first byte arrives, as Envoy's Grpc::FrameInspector counts it. The
// zero value is at the start of a body. It allocates nothing.
type frames struct {
	head   uint8  // bytes of the current 5-byte prefix read; 0: at a message start
	length uint32 // the length being read from the prefix
	skip   uint64 // bytes of the current message still to come
}

// count reads p and returns how many messages started in it.
func (f *frames) count(p []byte) uint64 {
	var n uint64
	for len(p) > 0 {
		if f.skip > 0 {
			k := min(uint64(len(p)), f.skip)
			p, f.skip = p[k:], f.skip-k
			continue
		}
		if f.head == 0 {
			n++
		}
		for f.head < 5 && len(p) > 0 {
			if f.head > 0 {
				f.length = f.length<<8 | uint32(p[0])
			}
			f.head++
			p = p[1:]
		}
		if f.head == 5 {
			f.skip, f.head, f.length = uint64(f.length), 0, 0
		}
	}
	return n
}
