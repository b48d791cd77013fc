package explain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes r for people, one decision per line, in the order the
// sidecar makes them. The text depends only on the report, so it is
// stable for tests.
func (r *Report) WriteText(w io.Writer) error {
	var b bytes.Buffer
	p := &printer{w: &b}
	p.request(&r.Request)
	if l := r.Listener; l != nil {
		p.line("listener", "%q at %s: %s", l.Name, l.Address, l.Why)
		p.line("", "transport: %s", l.Transport)
	}
	if r.Chain != nil {
		p.chain(r.Chain)
	}
	for _, f := range r.Network {
		p.line("network", "%s (%s): %s", f.Name, f.Type, f.Verdict.Detail)
	}
	if r.HTTP != nil {
		p.http(r.HTTP)
	}
	for _, c := range r.Clusters {
		p.cluster(c)
	}
	p.line("outcome", "%s", r.Outcome)
	_, err := w.Write(b.Bytes())
	return err
}

type printer struct{ w *bytes.Buffer }

// line writes a labelled line; an empty label continues the one before.
func (p *printer) line(label, format string, args ...any) {
	fmt.Fprintf(p.w, "%-14s"+format+"\n", append([]any{label}, args...)...)
}

func (p *printer) request(q *Request) {
	if q.Method != "" {
		p.line("request", "%s %s", q.Method, q.URL)
	} else {
		p.line("connection", "%s", q.URL)
	}
	tls := "plaintext"
	if q.TLS {
		tls = fmt.Sprintf("TLS, SNI %s, ALPN %s", orNone(q.SNI), orNone(strings.Join(q.ALPN, ",")))
		if q.Principal != "" {
			tls += ", client certificate " + q.Principal
		}
	}
	p.line("", "from %s to %s, %s", q.From, q.To, tls)
	for _, h := range q.Headers {
		p.line("", "header %s", h)
	}
}

func (p *printer) chain(c *ChainStep) {
	if c.Position != "" {
		tls := ""
		if c.TLS {
			tls = ", terminates TLS"
		}
		name := "(unnamed)"
		if c.Name != "" {
			name = fmt.Sprintf("%q", c.Name)
		}
		p.line("filter chain", "%s (%s), %s%s", name, c.Position, c.Terminal, tls)
	} else {
		p.line("filter chain", "none")
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%-14s%s\t%s\t%s\t%s\n", "", "criterion", "connection", "branch taken", "chains left")
	for _, s := range c.Steps {
		branch := s.Branch
		if branch == "" {
			branch = "no match"
		}
		fmt.Fprintf(tw, "%-14s%s\t%s\t%s\t%v\n", "", s.Criterion, s.Value, branch, s.Candidates)
	}
	tw.Flush()
	p.line("", "%s", c.Why)
}

func (p *printer) http(h *HTTPStep) {
	p.line("route config", "%q, path %q", h.RouteConfig, h.Path)
	vh := h.VirtualHost
	if vh.Name != "" || vh.Domain != "" {
		p.line("virtual host", "%q for host %q: domain %q, %s", vh.Name, vh.Host, vh.Domain, vh.How)
	} else if vh.How != "" {
		p.line("virtual host", "none for host %q: %s", vh.Host, vh.How)
	}
	for _, rt := range h.Routes {
		verdict := "matched"
		if !rt.Matched {
			verdict = "no: " + rt.Failed
		}
		p.line("route", "[%d] %q %s -> %s", rt.Index, rt.Name, rt.Match, verdict)
	}
	for _, f := range h.Filters {
		p.line("http filter", "%s: %s", f.Name, f.Verdict.Detail)
	}
	if h.Action != "" {
		p.line("action", "%s", h.Action)
	}
	for _, s := range h.Split {
		p.line("", "%q weight %d (%g%%)", s.Cluster, s.Weight, s.Percent)
	}
	if h.Answer != "" {
		p.line("answer", "%s", h.Answer)
	}
}

func (p *printer) cluster(c *ClusterStep) {
	if c.Plan == nil {
		p.line("cluster", "%q: %s", c.Name, c.Pick.Why)
		return
	}
	pl := c.Plan
	p.line("cluster", "%q, lb_policy %s, overprovisioning %d%%, panic threshold %g%%", c.Name, pl.Policy, pl.Overprovisioning, pl.PanicThreshold)
	var bs []string
	for _, b := range c.Breakers {
		s := fmt.Sprintf("%s %d/%d", b.Name, b.Active, b.Max)
		if b.Open {
			s += " OPEN"
		}
		bs = append(bs, s)
	}
	p.line("", "circuit breakers: %s (0: no limit)", strings.Join(bs, ", "))
	if h := c.Hash; h != nil {
		p.line("", "hash: %s: %s", h.Key, h.Why)
		for _, s := range h.Policies {
			v := "nothing"
			if s.Found {
				v = fmt.Sprintf("%q", s.Value)
			}
			p.line("", "  hash policy %s: %s", s.Policy, v)
		}
	}
	for _, l := range pl.Levels {
		panic := ""
		if l.Panic {
			panic = ", PANIC: balancing over all its endpoints"
		}
		p.line("", "priority %d: endpoints %d, healthy %d, degraded %d; takes %d%% healthy + %d%% degraded%s",
			l.Priority, l.Endpoints, l.Healthy, l.Degraded, l.HealthyLoad, l.DegradedLoad, panic)
	}
	for _, e := range c.Endpoints {
		bucket := e.Bucket
		if bucket == "" {
			bucket = "no picks reach it"
		}
		p.line("", "endpoint %s weight %d priority %d: %s; in flight %d; %s", e.Address, e.Weight, e.Priority, e.Health, e.Inflight, bucket)
	}
	if c.Pick.Endpoint != "" {
		p.line("pick", "%s: %s", c.Pick.Endpoint, c.Pick.Why)
		return
	}
	p.line("pick", "%s", c.Pick.Why)
	if len(c.Pick.Candidates) > 0 {
		p.line("", "candidates: %s", strings.Join(c.Pick.Candidates, ", "))
	}
}
