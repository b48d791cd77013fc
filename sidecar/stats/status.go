package stats

import "sync/atomic"

// codeSlots is how many distinct status codes a [Status] counts one by
// one; further codes still count in their class. Envoy creates a counter
// per code seen; a service answers few distinct codes.
const codeSlots = 12

// Status counts responses by status class (upstream_rq_2xx …) and by code
// (upstream_rq_200 …). The zero value is ready to use; it is safe for
// concurrent use, and CountStatus neither locks nor allocates: codes take
// slots of a small fixed table on first use. It must not be copied.
type Status struct {
	Rq1xx, Rq2xx, Rq3xx, Rq4xx, Rq5xx atomic.Uint64
	codes                             [codeSlots]codeSlot
}

type codeSlot struct {
	code atomic.Uint32 // 0: free
	n    atomic.Uint64
}

// CountStatus adds one response of the given status to its class counter
// and its code's counter.
func (s *Status) CountStatus(code int) {
	switch code / 100 {
	case 1:
		s.Rq1xx.Add(1)
	case 2:
		s.Rq2xx.Add(1)
	case 3:
		s.Rq3xx.Add(1)
	case 4:
		s.Rq4xx.Add(1)
	case 5:
		s.Rq5xx.Add(1)
	default:
		return
	}
	c := uint32(code)
	for i := range s.codes {
		sl := &s.codes[i]
		k := sl.code.Load()
		if k == 0 && sl.code.CompareAndSwap(0, c) {
			k = c
		} else if k == 0 {
			k = sl.code.Load() // another code took the slot meanwhile
		}
		if k == c {
			sl.n.Add(1)
			return
		}
	}
}

// Classes returns the counts by class, 1xx to 5xx.
func (s *Status) Classes() [5]uint64 {
	return [5]uint64{s.Rq1xx.Load(), s.Rq2xx.Load(), s.Rq3xx.Load(), s.Rq4xx.Load(), s.Rq5xx.Load()}
}

// Codes calls fn for each status code counted one by one, in slot order
// (the order codes were first seen).
func (s *Status) Codes(fn func(code int, n uint64)) {
	for i := range s.codes {
		sl := &s.codes[i]
		c := sl.code.Load()
		if c == 0 {
			return
		}
		fn(int(c), sl.n.Load())
	}
}
