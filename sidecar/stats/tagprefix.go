package stats

import (
	"fmt"
	"regexp/syntax"
	"strings"
	"sync"
)

// PrefixMemo lets the stat names that share a prefix (cluster.<name>.)
// share the regex work on it: what each anchored regex extractor finds
// on the prefix alone is kept, and used for a name whose rest cannot
// change that result. It is exact: a leftmost-first match of a regex
// anchored at the start, with no other assertion, differs on prefix+rest
// from the match on prefix only if some path still alive at the end of
// the prefix can reach a match on rest, and [TagProducer.ProduceWith]
// checks that by running those paths over rest (a few steps: they die
// within a token or two). Not safe for concurrent use.
type PrefixMemo struct {
	prefix  string
	byRegex map[*regexExtractor]*prefixResult
	scratch nfaScratch
}

// nfaScratch are the buffers of prefixNFA.run, reused.
type nfaScratch struct {
	on        []bool
	set, next []uint32
}

// NewPrefixMemo returns a memo for names that start with prefix.
func NewPrefixMemo(prefix string) *PrefixMemo {
	return &PrefixMemo{prefix: prefix, byRegex: map[*regexExtractor]*prefixResult{}}
}

// prefixResult is a regex's submatch indexes on the prefix alone, and the
// rune-consuming instructions its paths are at after the prefix.
type prefixResult struct {
	m    []int
	live []uint32
	sig  string // live, as a key of the regex's continuation cache
}

// ProduceWith is [TagProducer.Produce] for a name that starts with the
// memo's prefix, reusing the memo. It returns what Produce returns.
func (p *TagProducer) ProduceWith(name string, m *PrefixMemo) (string, []Tag) {
	if m == nil || !strings.HasPrefix(name, m.prefix) || strings.Contains(name, "\n") {
		return p.Produce(name)
	}
	return p.produce(name, m)
}

// prefixNFA is a regex's program, for the paths-alive check; nil for a
// regex that is not anchored at the start or has other assertions.
type prefixNFA struct {
	prog  *syntax.Prog
	mu    sync.Mutex
	cache map[[2]string]bool // see reaches
}

func newPrefixNFA(expr string) *prefixNFA {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil || prog.StartCond()&syntax.EmptyBeginText == 0 {
		return nil
	}
	for _, in := range prog.Inst {
		if in.Op == syntax.InstEmptyWidth && syntax.EmptyOp(in.Arg)&^(syntax.EmptyBeginText|syntax.EmptyBeginLine) != 0 {
			return nil
		}
	}
	return &prefixNFA{prog: prog, cache: map[[2]string]bool{}}
}

// add adds the thread at pc and those it reaches without a rune to set,
// and reports whether one of them is a match.
func (n *prefixNFA) add(set []uint32, on []bool, pc uint32, atStart bool) ([]uint32, bool) {
	if on[pc] {
		return set, false
	}
	on[pc] = true
	in := &n.prog.Inst[pc]
	switch in.Op {
	case syntax.InstAlt, syntax.InstAltMatch:
		set, m1 := n.add(set, on, in.Out, atStart)
		set, m2 := n.add(set, on, in.Arg, atStart)
		return set, m1 || m2
	case syntax.InstCapture, syntax.InstNop:
		return n.add(set, on, in.Out, atStart)
	case syntax.InstEmptyWidth:
		if !atStart {
			return set, false
		}
		return n.add(set, on, in.Out, atStart)
	case syntax.InstMatch:
		return set, true
	case syntax.InstFail:
		return set, false
	}
	return append(set, pc), false
}

// run steps the threads in set over s; it returns the threads alive at
// the end and whether any reached a match on the way (after s's first
// rune, or at its start when atStart).
func (n *prefixNFA) run(set []uint32, s string, sc *nfaScratch) ([]uint32, bool) {
	if cap(sc.on) < len(n.prog.Inst) {
		sc.on = make([]bool, len(n.prog.Inst))
	}
	on := sc.on[:len(n.prog.Inst)]
	set = append(sc.set[:0], set...)
	next := sc.next[:0]
	defer func() { sc.set, sc.next = set[:0], next[:0] }()
	matched := false
	for _, r := range s {
		next = next[:0]
		clear(on)
		for _, pc := range set {
			in := &n.prog.Inst[pc]
			ok := in.Op == syntax.InstRuneAny || in.Op == syntax.InstRuneAnyNotNL && r != '\n' ||
				(in.Op == syntax.InstRune || in.Op == syntax.InstRune1) && in.MatchRune(r)
			if ok {
				var m bool
				next, m = n.add(next, on, in.Out, false)
				matched = matched || m
			}
		}
		if set, next = next, set; len(set) == 0 {
			break
		}
	}
	return set, matched
}

// start returns the threads alive at the start of a name.
func (n *prefixNFA) start() []uint32 {
	set, _ := n.add(nil, make([]bool, len(n.prog.Inst)), uint32(n.prog.Start), true)
	return set
}

// onPrefix returns e's submatch indexes on name when they are those on
// m's prefix alone, computing the memo's entry first; ok is false when the
// rest of name could change them.
func (e *regexExtractor) onPrefix(name string, m *PrefixMemo) (idx []int, ok bool) {
	r := m.byRegex[e]
	if r == nil {
		live, _ := e.nfa.run(e.nfa.start(), m.prefix, &m.scratch)
		r = &prefixResult{m: e.re.FindStringSubmatchIndex(m.prefix), live: append([]uint32(nil), live...)}
		r.sig = fmt.Sprint(r.live)
		m.byRegex[e] = r
	}
	if len(r.live) > 0 && e.nfa.reaches(r, name[len(m.prefix):], &m.scratch) {
		return nil, false
	}
	return r.m, true
}

// reaches reports whether a path alive after a prefix (r) reaches a
// match on rest. The answer depends only on the paths and rest, which
// repeat from cluster to cluster, so it is cached.
func (n *prefixNFA) reaches(r *prefixResult, rest string, sc *nfaScratch) bool {
	k := [2]string{r.sig, rest}
	n.mu.Lock()
	v, ok := n.cache[k]
	n.mu.Unlock()
	if ok {
		return v
	}
	_, v = n.run(r.live, rest, sc)
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.cache) >= 4096 {
		clear(n.cache)
	}
	n.cache[k] = v
	return v
}
