package stats

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// Tag is one tag of a stat, named as Envoy names it (envoy.cluster_name,
// consul.destination.service).
type Tag struct{ Name, Value string }

// TagProducer turns a stat's full name into its tag-extracted name and its
// tags, as Envoy's TagProducerImpl does (source/common/stats/
// tag_producer_impl.cc and tag_extractor_impl.cc):
//
//   - Extractors are Envoy's defaults (see defaultRegexTags), then the
//     bootstrap's stats_tags in order: a regex, a fixed value, or a name
//     alone, which takes the default extractors of that name.
//   - Every extractor sees the whole original name. The extractors whose
//     prefix is empty run first, then those whose prefix is the name's
//     first token, each in the order added.
//   - A regex's first group is what is cut from the name, its second the
//     tag's value. A stats_tags regex is a std::regex in Envoy: with two
//     groups the value is the second even when it did not take part (an
//     empty value). A default one is RE2: an empty second group falls
//     back to the first, and an empty first group is no match.
//   - Once an extractor has produced a tag, later ones of the same tag name
//     are skipped.
//   - The cuts of all extractors are removed from the name together.
//
// A TagProducer is safe for concurrent use (it keeps an internal cache,
// see [PrefixMemo]); Produce runs
// regular expressions, so callers keep its results (see sidecar/admin).
type TagProducer struct {
	noPrefix []extractor
	byPrefix map[string][]extractor
}

// NewTagProducer returns the producer of a bootstrap's stats_config.
func NewTagProducer(sc spec.StatsConfig) (*TagProducer, error) {
	p := &TagProducer{byPrefix: map[string][]extractor{}}
	var all []extractor
	if !sc.NoDefaultTags {
		all = defaultExtractors("")
	}
	for _, t := range sc.Tags {
		switch {
		case t.Regex != "":
			re, err := regexp.Compile(t.Regex)
			if err != nil {
				return nil, fmt.Errorf("compiling the regex of tag %s: %w", t.Name, err)
			}
			all = append(all, &regexExtractor{base: base{name: t.Name, prefix: regexPrefix(t.Regex)}, re: re,
				nfa: newPrefixNFA(t.Regex), std: true})
		case t.Fixed != "" || !t.Default:
			all = append(all, &fixedExtractor{base{name: t.Name, prefix: regexPrefix(t.Fixed)}, t.Fixed})
		default:
			d := defaultExtractors(t.Name)
			if len(d) == 0 {
				return nil, fmt.Errorf("tag %s: no regex and no default regex of that name", t.Name)
			}
			all = append(all, d...)
		}
	}
	seen := map[string]int{}
	for _, e := range all {
		seen[e.b().name]++
	}
	for _, e := range all {
		e.b().shared = seen[e.b().name] > 1
		if pre := e.b().prefix; pre == "" {
			p.noPrefix = append(p.noPrefix, e)
		} else {
			p.byPrefix[pre] = append(p.byPrefix[pre], e)
		}
	}
	return p, nil
}

// defaultExtractors returns Envoy's default extractors, or with a name
// only those of that tag name.
func defaultExtractors(name string) []extractor {
	var out []extractor
	for _, d := range defaultRegexTags {
		if name == "" || d.name == name {
			re := expandRegex(d.regex)
			out = append(out, &regexExtractor{base: base{name: d.name, prefix: regexPrefix(re)},
				re: regexp.MustCompile(re), nfa: newPrefixNFA(re), substr: d.substr, negative: d.negative})
		}
	}
	for _, d := range defaultTokenTags {
		if name == "" || d[0] == name {
			out = append(out, newTokenExtractor(d[0], d[1]))
		}
	}
	return out
}

// Produce returns the tag-extracted name of the stat name and its tags,
// in the order extracted.
func (p *TagProducer) Produce(name string) (string, []Tag) { return p.produce(name, nil) }

func (p *TagProducer) produce(name string, memo *PrefixMemo) (string, []Tag) {
	first, _, dotted := strings.Cut(name, ".")
	var prefixed []extractor
	if dotted {
		prefixed = p.byPrefix[first]
	}
	n := len(p.noPrefix) + len(prefixed) // at most a tag and a cut each
	c := &extraction{name: name, memo: memo, tags: make([]Tag, 0, n), cuts: make([][2]int, 0, n)}
	var done []string // tag names produced by an extractor whose name is shared
	run := func(e extractor) {
		b := e.b()
		if b.shared && slices.Contains(done, b.name) {
			return
		}
		if e.extract(c) && b.shared {
			done = append(done, b.name)
		}
	}
	for _, e := range p.noPrefix {
		run(e)
	}
	for _, e := range prefixed {
		run(e)
	}
	return c.extracted(), c.tags
}

// extraction is the state of one Produce: the name, its tokens (split on
// first use), the tags found and the byte ranges to cut.
type extraction struct {
	name   string
	memo   *PrefixMemo // nil: none
	tokens []string
	tags   []Tag
	cuts   [][2]int
}

func (c *extraction) add(name, value string, from, to int) {
	c.tags = append(c.tags, Tag{name, value})
	if from < to {
		c.cuts = append(c.cuts, [2]int{from, to})
	}
}

func (c *extraction) split() []string {
	if c.tokens == nil {
		c.tokens = strings.Split(c.name, ".")
	}
	return c.tokens
}

// extracted returns the name without the union of the cuts.
func (c *extraction) extracted() string {
	if len(c.cuts) == 0 {
		return c.name
	}
	slices.SortFunc(c.cuts, func(a, b [2]int) int { return a[0] - b[0] })
	var sb strings.Builder
	pos := 0
	for _, r := range c.cuts {
		if r[0] > pos {
			sb.WriteString(c.name[pos:r[0]])
		}
		pos = max(pos, r[1])
	}
	sb.WriteString(c.name[pos:])
	return sb.String()
}

type extractor interface {
	b() *base
	// extract adds its tag and cut to c if it matches, and reports whether
	// it did.
	extract(c *extraction) bool
}

// base is what every extractor has: its tag name, the first token a stat
// name must have for it to run ("" for every name), and whether another
// extractor has the same tag name.
type base struct {
	name, prefix string
	shared       bool
}

func (b *base) b() *base { return b }

// regexPrefix is Envoy's extractRegexPrefix: for a regex "^word\." (or
// "^word(?=\.)", or "^word$") the word, else "".
func regexPrefix(re string) string {
	if !strings.HasPrefix(re, "^") {
		return ""
	}
	for i := 1; i < len(re); i++ {
		c := re[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		last := i == len(re)-1
		rest := re[i:]
		if i > 1 && (!last && (strings.HasPrefix(rest, `\.`) || strings.HasPrefix(rest, `(?=\.)`)) || last && c == '$') {
			return re[1:i]
		}
		return ""
	}
	return ""
}

// regexExtractor is a regex extractor; std selects std::regex's rules for
// the value (stats_tags) over RE2's (the defaults).
type regexExtractor struct {
	base
	re       *regexp.Regexp
	nfa      *prefixNFA // nil: no PrefixMemo shortcut
	substr   string
	negative string
	std      bool
}

func (e *regexExtractor) extract(c *extraction) bool {
	if e.substr != "" && !strings.Contains(c.name, e.substr) {
		return false
	}
	var m []int
	if idx, ok := e.memoized(c); ok {
		m = idx
	} else {
		m = e.re.FindStringSubmatchIndex(c.name)
	}
	if m == nil || len(m) < 4 {
		return false
	}
	group := func(i int) (string, int, int) {
		if m[2*i] < 0 {
			return "", 0, 0
		}
		return c.name[m[2*i]:m[2*i+1]], m[2*i], m[2*i+1]
	}
	remove, from, to := group(1)
	value := remove
	if len(m) >= 6 {
		value, _, _ = group(2)
	}
	if !e.std {
		if remove == "" || len(m) < 6 { // RE2::PartialMatch wants both groups
			return false
		}
		if value == "" {
			value = remove
		}
		if e.negative != "" && value == e.negative {
			return false
		}
	}
	c.add(e.name, value, from, to)
	return true
}

// memoized returns e's submatch indexes from c's PrefixMemo, if it has
// one and they hold for c's name.
func (e *regexExtractor) memoized(c *extraction) ([]int, bool) {
	if c.memo == nil || e.nfa == nil {
		return nil, false
	}
	return e.onPrefix(c.name, c.memo)
}

// fixedExtractor tags every stat with a fixed value.
type fixedExtractor struct {
	base
	value string
}

func (e *fixedExtractor) extract(c *extraction) bool {
	c.add(e.name, e.value, 0, 0)
	return true
}
