package admin

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"

	"github.com/prometheus/common/expfmt"

	"github.com/meshlb/meshlb/sidecar/stats"
)

// leValues are the histogram bounds as Prometheus "le" label values.
var leValues = func() (out [len(stats.Bounds)]string) {
	for i, b := range stats.Bounds {
		out[i] = strconv.FormatFloat(b, 'g', -1, 64)
	}
	return out
}()

// prometheus answers /stats/prometheus in the Prometheus text exposition
// format (version 0.0.4, what client_golang's expfmt.FmtText names), the
// families sorted by name. It writes the same series as [Collector]
// directly, because going through client_golang's registry costs seconds
// for a 5,000-cluster configuration (each sample becomes a const metric,
// a dto.Metric and a hashed, sorted entry); this costs tens of ms.
func (a *admin) prometheus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	writeExposition(w, a)
}

// writeExposition writes every stat of a grouped by family, the
// families sorted by name. Each stat is appended to its family's buffer as
// it is read, so nothing but bytes is kept.
func writeExposition(w io.Writer, a *admin) {
	type family struct {
		kind kind
		buf  []byte
	}
	fams := map[string]*family{}
	clusters := 0
	if snap := a.sc.Snapshot(); snap != nil {
		clusters = len(snap.Clusters)
	}
	a.each(func(s *stat) {
		f := fams[s.family]
		if f == nil {
			f = &family{kind: s.kind, buf: make([]byte, 0, familySize(s, clusters))}
			fams[s.family] = f
		}
		f.buf = appendSeries(f.buf, s)
	})
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, name := range slices.Sorted(maps.Keys(fams)) {
		f := fams[name]
		fmt.Fprintf(bw, "# TYPE %s %s\n", name, f.kind)
		bw.Write(f.buf)
	}
	bw.Flush()
}

// familySize guesses the bytes of the family of s, so that its buffer
// rarely grows: one series per cluster for the cluster families.
func familySize(s *stat, clusters int) int {
	n := 16
	if s.scope == "cluster" {
		n = clusters + 1
	}
	line := len(s.family) + len(s.label) + len(s.subject) + len(s.tag) + 24
	if line += len(s.extraText); s.extraText == "" {
		for _, l := range s.extra {
			line += len(l.name) + len(l.value) + 4
		}
	}
	if s.kind == histogram {
		line = (line + 12) * (len(leValues) + 3)
	}
	return n * line
}

// appendSeries appends the lines of one stat: one sample, or a
// histogram's buckets, sum and count.
func appendSeries(b []byte, s *stat) []byte {
	if s.kind != histogram {
		b = appendLabels(append(b, s.family...), s, "")
		return appendValue(b, s.value)
	}
	for i, le := range leValues {
		b = appendLabels(append(append(b, s.family...), "_bucket"...), s, le)
		b = appendValue(b, float64(s.hist.Cumulative[i]))
	}
	b = appendLabels(append(append(b, s.family...), "_bucket"...), s, "+Inf")
	b = appendValue(b, float64(s.hist.Count))
	b = appendLabels(append(append(b, s.family...), "_sum"...), s, "")
	b = appendValue(b, s.hist.SumMs)
	b = appendLabels(append(append(b, s.family...), "_count"...), s, "")
	return appendValue(b, float64(s.hist.Count))
}

func appendLabels(b []byte, s *stat, le string) []byte {
	if s.label == "" && s.tag == "" && le == "" && len(s.extra) == 0 {
		return b
	}
	b = append(b, '{')
	sep := false
	pair := func(name, value string) {
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = append(append(b, name...), `="`...)
		b = appendEscaped(b, value)
		b = append(b, '"')
	}
	if s.label != "" {
		pair(s.label, s.subject)
	}
	if s.tag != "" {
		pair(s.tag, s.tagVal)
	}
	switch {
	case s.extraText != "" && sep:
		b = append(b, s.extraText...)
	case s.extraText != "":
		b = append(b, s.extraText[1:]...) // no leading comma
		sep = true
	default:
		for _, l := range s.extra {
			if l.name != s.label && l.name != s.tag {
				pair(l.name, l.value)
			}
		}
	}
	if le != "" {
		pair("le", le)
	}
	return append(b, '}')
}

// appendEscaped escapes a label value as the text format requires.
func appendEscaped(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func appendValue(b []byte, v float64) []byte {
	b = append(b, ' ')
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		b = strconv.AppendInt(b, int64(v), 10)
	} else {
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return append(b, '\n')
}
