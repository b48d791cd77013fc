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
// families sorted by name. A stat is kept as its value and a pointer to
// its shared labels until its family is written, so the text is made
// once, straight into the writer's buffer.
func writeExposition(w io.Writer, a *admin) {
	type family struct {
		kind   kind
		series []held
	}
	fams := map[string]*family{}
	a.each(func(s *stat) {
		f := fams[s.family]
		if f == nil {
			f = &family{kind: s.kind}
			fams[s.family] = f
		}
		f.series = append(f.series, held{s.tags, s.hist, s.value})
	})
	bw := bufio.NewWriterSize(w, 64<<10)
	var line []byte
	for _, name := range slices.Sorted(maps.Keys(fams)) {
		f := fams[name]
		fmt.Fprintf(bw, "# TYPE %s %s\n", name, f.kind)
		for _, x := range f.series {
			line = appendSeries(line[:0], &stat{family: name, kind: f.kind, tags: x.tags, hist: x.hist, value: x.value})
			bw.Write(line)
		}
	}
	bw.Flush()
}

// held is what writeExposition keeps of a stat until it writes it.
type held struct {
	tags  *tagSet
	hist  *stats.Snapshot
	value float64
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
	text := s.tags.text
	if text == "" && le == "" {
		return b
	}
	b = append(append(b, '{'), text...)
	if le != "" {
		if text != "" {
			b = append(b, ',')
		}
		b = append(append(append(b, `le="`...), le...), '"')
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
