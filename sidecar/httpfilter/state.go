package httpfilter

// State holds filter state that must outlive configuration snapshots, as
// endpoint state does (DESIGN.md, "Rules for the hot path"): a token
// bucket must not refill because an unrelated endpoint changed. Each build
// takes a new State from the previous one with [State.Next]; a value is
// carried over when the new build asks for the same key, and dropped
// otherwise.
//
// A State is used by one build at a time, off the hot path; it is not safe
// for concurrent use. The values it holds are shared by the requests of
// both snapshots, so they must be safe for concurrent use.
type State struct {
	prev *State
	m    map[string]any
}

// Next returns an empty State that carries values over from s (which may
// be nil). Call [State.Seal] on it once its build is done.
func (s *State) Next() *State { return &State{prev: s, m: map[string]any{}} }

// Seal forgets the previous state, so states do not form a chain.
func (s *State) Seal() {
	if s != nil {
		s.prev = nil
	}
}

// Get returns the value under key: this build's, else the previous
// build's, else a new one from mk.
func (s *State) Get(key string, mk func() any) any {
	if s == nil {
		return mk()
	}
	if v, ok := s.m[key]; ok {
		return v
	}
	v, ok := any(nil), false
	if s.prev != nil {
		v, ok = s.prev.m[key]
	}
	if !ok {
		v = mk()
	}
	s.m[key] = v
	return v
}
