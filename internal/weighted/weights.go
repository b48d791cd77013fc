package weighted

// Weights returns the weight of each choice, in order, as given to Add.
// It allocates; it is for reporting a split (meshlb explain), not for
// picking.
func (s *Split) Weights() []uint32 {
	out := make([]uint32, len(s.cumul))
	var prev uint32
	for i, c := range s.cumul {
		out[i], prev = c-prev, c
	}
	return out
}
