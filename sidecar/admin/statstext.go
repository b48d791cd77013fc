package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// quantiles are the percentiles /stats reports for a histogram, Envoy's
// supported_quantiles.
var quantiles = []float64{0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100}

// statsText answers /stats: "name: value" lines sorted by name, or with
// ?format=json Envoy's {"stats":[...]} shape. ?filter= keeps the stats
// whose name matches the regular expression; ?usedonly keeps the nonzero.
func (a *admin) statsText(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var re *regexp.Regexp
	if f := q.Get("filter"); f != "" {
		var err error
		if re, err = regexp.Compile(f); err != nil {
			http.Error(w, "filter: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	_, usedOnly := q["usedonly"]
	all := a.collect()
	names := sortStats(all)
	var out []stat
	var outNames []string
	for i, s := range all {
		if (re == nil || re.MatchString(names[i])) && (!usedOnly || used(&s)) {
			out, outNames = append(out, s), append(outNames, names[i])
		}
	}
	if q.Get("format") == "json" {
		w.Header().Set("Content-Type", "application/json")
		writeStatsJSON(w, out, outNames)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for i, s := range out {
		if s.kind == histogram {
			fmt.Fprintf(w, "%s: %s\n", outNames[i], histText(&s))
			continue
		}
		fmt.Fprintf(w, "%s: %s\n", outNames[i], strconv.FormatFloat(s.value, 'f', -1, 64))
	}
}

func used(s *stat) bool {
	if s.kind == histogram {
		return s.hist.Count > 0
	}
	return s.value != 0
}

// histText renders a histogram as Envoy's /stats does: P<q>(interval,
// cumulative) for each quantile. meshlb keeps no interval histograms, so
// the interval is nan.
func histText(s *stat) string {
	if s.hist.Count == 0 {
		return "No recorded values"
	}
	var b strings.Builder
	for i, q := range quantiles {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "P%s(nan,%s)", strconv.FormatFloat(q, 'f', -1, 64),
			strconv.FormatFloat(percentile(s, q), 'g', 4, 64))
	}
	return b.String()
}

// percentile is the p-th percentile (0 to 100) of a histogram stat; P0
// is taken as P0.001, as Quantile wants q > 0.
func percentile(s *stat, p float64) float64 {
	return s.hist.Quantile(max(p, 0.001) / 100)
}

type jsonStat struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

type jsonHistograms struct {
	Supported []float64       `json:"supported_quantiles"`
	Computed  []jsonQuantiles `json:"computed_quantiles"`
}

type jsonQuantiles struct {
	Name   string      `json:"name"`
	Values []jsonValue `json:"values"`
}

type jsonValue struct {
	Cumulative *float64 `json:"cumulative"`
}

// writeStatsJSON writes Envoy's /stats?format=json shape: the counters
// and gauges as {"name","value"}, then one {"histograms":...} entry.
func writeStatsJSON(w http.ResponseWriter, out []stat, names []string) {
	var list []any
	h := jsonHistograms{Supported: quantiles}
	for i, s := range out {
		if s.kind != histogram {
			list = append(list, jsonStat{names[i], s.value})
			continue
		}
		q := jsonQuantiles{Name: names[i]}
		for _, p := range quantiles {
			var v *float64
			if s.hist.Count > 0 {
				x := percentile(&s, p)
				v = &x
			}
			q.Values = append(q.Values, jsonValue{v})
		}
		h.Computed = append(h.Computed, q)
	}
	if len(h.Computed) > 0 {
		list = append(list, map[string]any{"histograms": h})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(map[string]any{"stats": list})
}
