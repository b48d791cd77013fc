package admin

import (
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// WithStatsTags applies a bootstrap's stats_config tag specifiers to the
// stats' Prometheus labels (see [tagger]), so that under Consul the
// consul.destination.* tags appear as labels as Envoy emits them. A regex
// that does not compile is skipped (sidecar/config has checked them).
func WithStatsTags(sc spec.StatsConfig) Option {
	return func(a *admin) { a.tags = newTagger(sc) }
}

// label is one Prometheus label.
type label struct{ name, value string }

// tagger applies stats_config.stats_tags as Envoy's tag extractors do:
// a regex tag matches the stat name, its first group is what the tag
// takes out of the name and its second (or, without one, its first) the
// tag's value; a fixed_value tag goes on every stat. The tag name becomes
// the label name with every character outside [a-zA-Z0-9_] as '_'
// (consul.destination.service → consul_destination_service).
//
// meshlb applies a regex to "<scope>.<subject>." (cluster.<name>.,
// http.<stat_prefix>., tcp.<stat_prefix>., listener.<address>.), the part
// of the name that names what the stat is about, which is where Consul's
// and Envoy's own extractors look; the result is kept per subject, so a
// scrape costs one lookup per cluster and no regex once a cluster has
// been seen, and the request path nothing. The default tags (the label
// and response code of each stat) are kept; a custom tag of the same
// label name as one of them is left out.
type tagger struct {
	regexes []regexTag
	fixed   []label
	names   []string // every custom label name, sorted (for Collector)
	// envoyNamed is set when a custom label is named envoy_*, and may be
	// the same as a default one: then labels are written one by one.
	envoyNamed bool
	mu         sync.Mutex
	// bySubject caches the labels per scope and subject; it is cleared
	// when it outgrows twice the subjects of one scrape.
	bySubject map[[2]string]*tagSet
}

// tagSet is the custom labels of one subject, and their text-format
// rendering (`,name="value"` each), written as is unless envoyNamed.
type tagSet struct {
	labels []label
	text   string
}

type regexTag struct {
	name string
	re   *regexp.Regexp
}

func newTagger(sc spec.StatsConfig) *tagger {
	t := &tagger{bySubject: map[[2]string]*tagSet{}}
	for _, tag := range sc.Tags {
		name := promLabelName(tag.Name)
		if tag.Regex == "" {
			t.fixed = append(t.fixed, label{name, tag.Fixed})
		} else if re, err := regexp.Compile(tag.Regex); err == nil {
			t.regexes = append(t.regexes, regexTag{name, re})
		} else {
			continue
		}
		if !slices.Contains(t.names, name) {
			t.names = append(t.names, name)
		}
		t.envoyNamed = t.envoyNamed || strings.HasPrefix(name, "envoy_")
	}
	slices.Sort(t.names)
	if len(t.names) == 0 {
		return nil
	}
	return t
}

// promLabelName turns a tag name into a Prometheus label name as Envoy's
// Prometheus formatter does.
func promLabelName(name string) string {
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

// labels returns the custom labels of the stats of scope and subject (for
// stats without a scope, subject is their whole name). The slice is
// shared: it must not be changed.
func (t *tagger) labels(scope, subject string) []label { return t.set(scope, subject).labels }

// set returns the cached tag set of scope and subject, making it first.
func (t *tagger) set(scope, subject string) *tagSet {
	k := [2]string{scope, subject}
	t.mu.Lock()
	defer t.mu.Unlock()
	if ts, ok := t.bySubject[k]; ok {
		return ts
	}
	ts := &tagSet{labels: t.extract(scope, subject)}
	var b []byte
	for _, l := range ts.labels {
		b = append(append(append(b, ','), l.name...), `="`...)
		b = append(appendEscaped(b, l.value), '"')
	}
	ts.text = string(b)
	t.bySubject[k] = ts
	return ts
}

// extract applies the tags to the stats of scope and subject.
func (t *tagger) extract(scope, subject string) []label {
	probe := subject
	if scope != "" {
		probe = scope + "." + subject + "."
	}
	var ls []label
	for _, r := range t.regexes {
		m := r.re.FindStringSubmatch(probe)
		if len(m) < 2 || slices.ContainsFunc(ls, func(l label) bool { return l.name == r.name }) {
			continue
		}
		v := m[1]
		if len(m) > 2 {
			v = m[2]
		}
		ls = append(ls, label{r.name, v})
	}
	for _, f := range t.fixed {
		if !slices.ContainsFunc(ls, func(l label) bool { return l.name == f.name }) {
			ls = append(ls, f)
		}
	}
	return ls
}

// prune forgets the cached subjects when there are more than twice n (the
// subjects of the last scrape), so removed clusters do not pile up.
func (t *tagger) prune(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.bySubject) > 2*n+64 {
		clear(t.bySubject)
	}
}

// tagged wraps emit so that each stat carries its custom labels; a
// one-entry cache skips the lookup for the stats of the same subject,
// which collect emits together. It returns emit itself without tags, and
// a func to call once the scrape is over.
func (t *tagger) tagged(emit func(*stat)) (func(*stat), func()) {
	if t == nil {
		return emit, func() {}
	}
	var lastScope, lastSubject string
	var last *tagSet
	subjects := 0
	return func(s *stat) {
			scope, subject := s.scope, s.subject
			if scope == "" {
				subject = s.full
			}
			if last == nil || scope != lastScope || subject != lastSubject {
				lastScope, lastSubject, last = scope, subject, t.set(scope, subject)
				subjects++
			}
			s.extra = last.labels
			if !t.envoyNamed {
				s.extraText = last.text
			}
			emit(s)
		}, func() {
			t.prune(subjects)
		}
}
