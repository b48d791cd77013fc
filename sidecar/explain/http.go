package explain

import (
	"fmt"
	"strings"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// explainHTTP explains q's routing by the HTTP chain whose forwarder
// configuration is hc, in the forwarder's order: path normalization,
// route match, HTTP filters, then the route's action.
func (r *Report) explainHTTP(snap *sidecar.Snapshot, hc *forward.Config, conn *stream.Conn, q Query) {
	step := &HTTPStep{RouteConfig: hc.Routes.Name}
	r.HTTP = step
	if !q.IsHTTP() {
		r.Outcome = fmt.Sprintf("served by the HTTP connection manager (route config %q); give an http:// request to explain its routing", hc.Routes.Name)
		return
	}
	req := httpRequest(q)
	if hc.NormalizePath || hc.MergeSlashes {
		req.Path = forward.NormalizePath(req.Path, hc.NormalizePath, hc.MergeSlashes)
	}
	step.Path = string(req.Path)
	step.VirtualHost, step.Routes = hc.Routes.Trace(req)
	var rt *route.Route
	index := -1
	if n := len(step.Routes); n > 0 && step.Routes[n-1].Matched {
		rt = step.Routes[n-1].Route
		index = rt.Index
	}
	fs := &httpfilter.Stream{Request: req, Conn: conn}
	step.Filters = hc.Filters.Explain(fs, index)
	if n := len(step.Filters); n > 0 && step.Filters[n-1].Verdict.Stops {
		f := step.Filters[n-1]
		step.Answer = fmt.Sprintf("%d from HTTP filter %s", f.Verdict.Status, f.Name)
		r.Outcome = fmt.Sprintf("answered %d by HTTP filter %s: %s", f.Verdict.Status, f.Name, f.Verdict.Detail)
		return
	}
	r.routeAction(snap, step, rt, req, q)
}

// routeAction records what rt does with req.
func (r *Report) routeAction(snap *sidecar.Snapshot, step *HTTPStep, rt *route.Route, req *route.Request, q Query) {
	switch {
	case rt == nil:
		step.Answer = "404: no route matched (response flag NR)"
		r.Outcome = "answered 404: no route matched"
		return
	case rt.Direct != nil:
		step.Action = "direct_response"
		step.Answer = fmt.Sprintf("%d with a body of %d bytes", rt.Direct.Status, len(rt.Direct.Body))
		r.Outcome = fmt.Sprintf("answered %d by the route's direct_response", rt.Direct.Status)
		return
	case rt.Redirect != nil:
		step.Action = "redirect"
		loc := forward.Location(rt.Redirect, req)
		step.Answer = fmt.Sprintf("%d location: %s", rt.Redirect.Status, loc)
		r.Outcome = fmt.Sprintf("answered %d: redirect to %s", rt.Redirect.Status, loc)
		return
	}
	step.Action = "cluster"
	weights := rt.Weights()
	if len(rt.Targets) > 1 {
		step.Action = "weighted_clusters"
		step.Split = split(rt.Targets, weights)
	}
	h := hashOf(rt.HashTrace(req, []byte(q.From.Addr().Unmap().String())))
	for _, t := range rt.Targets {
		r.Clusters = append(r.Clusters, explainCluster(snap, t.Name, t.Cluster, h))
	}
	r.Outcome = r.toClusters(step.Split)
}

func split(targets []route.Target, weights []uint32) []SplitTarget {
	var total uint32
	for _, w := range weights {
		total += w
	}
	out := make([]SplitTarget, len(targets))
	for i, t := range targets {
		out[i] = SplitTarget{Cluster: t.Name, Weight: weights[i], Percent: float64(100*weights[i]) / float64(total)}
	}
	return out
}

// toClusters is the outcome of a request or connection forwarded to
// r.Clusters, split as s says when it has several.
func (r *Report) toClusters(s []SplitTarget) string {
	if len(r.Clusters) == 1 {
		c := r.Clusters[0]
		if c.Pick.Endpoint != "" {
			return fmt.Sprintf("to cluster %q, endpoint %s", c.Name, c.Pick.Endpoint)
		}
		if len(c.Pick.Candidates) > 0 {
			return fmt.Sprintf("to cluster %q, one of %s", c.Name, strings.Join(c.Pick.Candidates, ", "))
		}
		return fmt.Sprintf("cluster %q: %s", c.Name, c.Pick.Why)
	}
	var parts []string
	for _, t := range s {
		parts = append(parts, fmt.Sprintf("%q %g%%", t.Cluster, t.Percent))
	}
	return "to one of the clusters " + strings.Join(parts, ", ") + ", drawn at random by weight for each request (see each cluster's pick)"
}

// httpRequest is q's request head as a codec would present it.
func httpRequest(q Query) *route.Request {
	u := q.URL
	req := &route.Request{Method: []byte(q.Method), Host: []byte(u.Host), Path: []byte(u.EscapedPath())}
	if len(req.Path) == 0 {
		req.Path = []byte("/")
	}
	if u.RawQuery != "" || u.ForceQuery {
		req.Query = []byte(u.RawQuery)
	}
	for _, h := range q.Headers {
		name, value, _ := strings.Cut(h, ":")
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		if name == "host" || name == ":authority" {
			req.Host = []byte(value)
			continue
		}
		req.Headers = append(req.Headers, route.Header{Name: []byte(name), Value: []byte(value)})
	}
	return req
}

// explainTCP explains the TCP proxy of ch: its cluster or weighted
// clusters, and each cluster's pick.
func (r *Report) explainTCP(snap *sidecar.Snapshot, ch *sidecar.Chain) {
	cfg := ch.TCPConfig()
	var s []SplitTarget
	if len(cfg.Targets) > 1 {
		targets := make([]route.Target, len(cfg.Targets))
		for i, t := range cfg.Targets {
			targets[i] = route.Target{Name: t.Name, Cluster: t.Cluster}
		}
		s = split(targets, cfg.Weights())
	}
	for _, t := range cfg.Targets {
		r.Clusters = append(r.Clusters, explainCluster(snap, t.Name, t.Cluster, tcpHash))
	}
	r.Outcome = r.toClusters(s)
}
