package explain

import (
	"fmt"
	"strings"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/filterchain"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// chain records the filter chain l selects for ci, and returns it; nil
// when none matches, with the outcome set.
func (r *Report) chain(l *sidecar.Listener, ci filterchain.ConnInfo) *sidecar.Chain {
	ch, tr := l.SelectChain(&ci)
	step := &ChainStep{Steps: tr.Steps}
	r.Chain = step
	var last filterchain.Step
	if len(tr.Steps) > 0 {
		last = tr.Steps[len(tr.Steps)-1]
	}
	switch {
	case ch != nil && ch.IsDefault() && len(l.Spec.FilterChains) == 0:
		step.Why = "the listener has only a default_filter_chain"
	case ch == nil:
		step.Why = fmt.Sprintf("no chain matches: %s %s matches none of the remaining chains; the listener has no default_filter_chain",
			last.Criterion, last.Value)
		r.Outcome = "connection closed: no filter chain matches (listener." + statAddr(l.Spec.Address) + ".no_filter_chain_match)"
		return nil
	case ch.IsDefault():
		step.Why = fmt.Sprintf("no chain matches (%s %s matches none of the remaining chains): the default_filter_chain serves it",
			last.Criterion, last.Value)
	default:
		step.Why = "every criterion took a branch holding this chain; the most specific value wins at each, in Envoy's order"
	}
	step.Name, step.Position, step.TLS = ch.Spec.Name, position(l, ch), ch.Spec.TLS != nil
	step.Terminal = "tcp_proxy"
	if ch.HTTPConfig() != nil {
		step.Terminal = "http_connection_manager"
	}
	return ch
}

func statAddr(a string) string { return strings.ReplaceAll(a, ":", "_") }

// position is ch's place in l's configuration.
func position(l *sidecar.Listener, ch *sidecar.Chain) string {
	if ch.IsDefault() {
		return "default_filter_chain"
	}
	for i := range l.Spec.FilterChains {
		if &l.Spec.FilterChains[i] == ch.Spec {
			return fmt.Sprintf("filter_chains[%d]", i)
		}
	}
	return ""
}

// networkFilters records what each of ch's network filters would do with
// conn, in the order the chain runs them (filterchain.Chain.ServeConn):
// every filter's OnNewConnection, then, after the transport socket, each
// ConnFilter's OnConnected. It reports whether the connection gets past
// them.
func (r *Report) networkFilters(ch *sidecar.Chain, conn *stream.Conn) bool {
	var order []int
	for _, connPhase := range []bool{false, true} {
		for i, f := range ch.NetworkFilters() {
			if _, ok := f.(filterchain.ConnFilter); ok == connPhase {
				order = append(order, i)
			}
		}
	}
	for _, i := range order {
		f, nf := ch.NetworkFilters()[i], ch.Spec.Filters[i]
		step := FilterStep{Name: nf.Name, Type: shortType(nf.TypeURL),
			Verdict: filterchain.Verdict{Detail: "runs (no explanation for this filter type)"}}
		if e, ok := f.(filterchain.Explainer); ok {
			step.Verdict = e.Explain(conn)
		}
		r.Network = append(r.Network, step)
		if step.Verdict.Closes {
			r.Outcome = fmt.Sprintf("connection closed by network filter %s: %s", name(nf.Name, step.Type), step.Verdict.Detail)
			return false
		}
	}
	return true
}

// shortType is the message name of a type URL.
func shortType(url string) string { return url[strings.LastIndexByte(url, '/')+1:] }

func name(n, typ string) string {
	if n != "" {
		return n
	}
	return typ
}
