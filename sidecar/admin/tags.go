package admin

import (
	"slices"
	"sync"

	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stats"
)

// WithStatsTags applies a bootstrap's stats_config (its stats_tags and
// use_all_default_tags) to the stats' Prometheus names and labels, as
// Envoy's tag extraction does (see [stats.TagProducer]). A config that
// does not make a producer (sidecar/config has checked it) leaves Envoy's
// default tags.
func WithStatsTags(sc spec.StatsConfig) Option {
	return func(a *admin) {
		if p, err := stats.NewTagProducer(sc); err == nil {
			a.tags = newTagger(p)
		}
	}
}

// label is one Prometheus label.
type label struct{ name, value string }

// tagSet is the labels of a series and their text-format rendering
// (`name="value",…`, no braces). Shared, read only.
type tagSet struct {
	labels []label
	text   string
	from   []stats.Tag // the tags it was made of
}

// series is what tag extraction makes of one stat: its Prometheus family
// and its labels.
type series struct {
	family string
	tags   *tagSet
}

// tagger names and labels the stats through a [stats.TagProducer] once
// per stat name, and remembers the result: a scrape runs no regex for a
// stat it has seen, and the request path never runs one. Results are kept
// per subject (cluster, listener, stat prefix; for stats without a scope,
// the whole name), in the order collect emits them, so a scrape costs one
// map lookup per subject and a string comparison per stat. Safe for
// concurrent use.
type tagger struct {
	p  *stats.TagProducer
	mu sync.Mutex
	// bySubject is cleared when it outgrows twice the subjects of a
	// scrape, so removed clusters do not pile up.
	bySubject map[[2]string]*subjectTags
	families  map[string]string // tag-extracted name → family, interned
}

// subjectTags are the series of the stats of one subject, in the order
// seen, and their distinct label sets.
type subjectTags struct {
	mu    sync.Mutex
	stats []namedSeries
	sets  []*tagSet
	memo  *stats.PrefixMemo // "scope.subject.", nil without a scope
}

type namedSeries struct {
	full string
	series
}

// defaultProducer extracts Envoy's default tags only.
var defaultProducer = sync.OnceValue(func() *stats.TagProducer {
	p, err := stats.NewTagProducer(spec.StatsConfig{})
	if err != nil {
		panic(err) // the defaults are constants
	}
	return p
})

func newTagger(p *stats.TagProducer) *tagger {
	return &tagger{p: p, bySubject: map[[2]string]*subjectTags{}, families: map[string]string{}}
}

// subject returns the series memo of scope and subject, making it first.
func (t *tagger) subject(scope, subject string) *subjectTags {
	k := [2]string{scope, subject}
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.bySubject[k]
	if st == nil {
		st = &subjectTags{}
		if scope != "" {
			st.memo = stats.NewPrefixMemo(scope + "." + subject + ".")
		}
		t.bySubject[k] = st
	}
	return st
}

// lookup returns the series of s in st; at is where the previous stat of
// st was found, so a scrape in the usual order compares one name per stat.
func (t *tagger) lookup(st *subjectTags, s *stat, at int) (series, int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if at < len(st.stats) && st.stats[at].full == s.full {
		return st.stats[at].series, at + 1
	}
	if i := slices.IndexFunc(st.stats, func(n namedSeries) bool { return n.full == s.full }); i >= 0 {
		return st.stats[i].series, i + 1
	}
	sr := t.extract(st, s.name())
	st.stats = append(st.stats, namedSeries{s.full, sr})
	return sr, len(st.stats)
}

// extract runs the producer on name, sharing the family string and the
// subject's label sets.
func (t *tagger) extract(st *subjectTags, name string) series {
	extracted, tags := t.p.ProduceWith(name, st.memo)
	var ts *tagSet
	if i := slices.IndexFunc(st.sets, func(o *tagSet) bool { return slices.Equal(o.from, tags) }); i >= 0 {
		ts = st.sets[i]
	} else {
		ts = newTagSet(tags)
		st.sets = append(st.sets, ts)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.families[extracted]
	if !ok {
		f = "envoy_" + promName(extracted)
		t.families[extracted] = f
	}
	return series{f, ts}
}

// newTagSet makes the labels of tags: each tag name as Envoy's Prometheus
// formatter writes it; of two tags that come out as the same label name,
// the first is kept (a Prometheus series cannot repeat a label).
func newTagSet(tags []stats.Tag) *tagSet {
	ts := &tagSet{from: tags, labels: make([]label, 0, len(tags))}
	b := make([]byte, 0, 64*len(tags))
	for _, tg := range tags {
		name := promName(tg.Name)
		if slices.ContainsFunc(ts.labels, func(l label) bool { return l.name == name }) {
			continue
		}
		ts.labels = append(ts.labels, label{name, tg.Value})
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = append(append(b, name...), `="`...)
		b = append(appendEscaped(b, tg.Value), '"')
	}
	ts.text = string(b)
	return ts
}

// promName turns a stat or tag name into a Prometheus name as Envoy's
// Prometheus formatter does: every character outside [a-zA-Z0-9_] becomes
// '_', and a leading digit gets a '_' before it.
func promName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	if len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
		return "_" + string(b)
	}
	return string(b)
}

// prune forgets the remembered subjects when there are more than twice n
// (the subjects of the last scrape).
func (t *tagger) prune(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.bySubject) > 2*n+64 {
		clear(t.bySubject)
	}
}

// tagged wraps emit so that each stat carries its family and labels. It
// returns a func to call once the scrape is over.
func (t *tagger) tagged(emit func(*stat)) (func(*stat), func()) {
	var lastScope, lastSubject string
	var cur *subjectTags
	at, subjects := 0, 0
	return func(s *stat) {
			scope, subject := s.scope, s.subject
			if scope == "" {
				subject = s.full
			}
			if cur == nil || scope != lastScope || subject != lastSubject {
				lastScope, lastSubject, cur, at = scope, subject, t.subject(scope, subject), 0
				subjects++
			}
			var sr series
			sr, at = t.lookup(cur, s, at)
			s.family, s.tags = sr.family, sr.tags
			emit(s)
		}, func() {
			t.prune(subjects)
		}
}
