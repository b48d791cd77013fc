package filterchain

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// Step is one criterion of a filter-chain match as [Matcher.Trace] walked
// it.
type Step struct {
	// Criterion is the FilterChainMatch field: destination_port,
	// prefix_ranges, server_names, transport_protocol,
	// application_protocols, direct_source_prefix_ranges, source_type,
	// source_prefix_ranges or source_ports.
	Criterion string `json:"criterion"`
	// Value is the connection's value for the criterion.
	Value string `json:"value"`
	// Branch is the configured value the connection took ("any" for the
	// chains that leave the criterion empty); "" when it took none, which
	// ends the match with no chain.
	Branch string `json:"branch"`
	// Candidates are the chains (indexes into the matcher's list) still
	// possible after the step.
	Candidates []int `json:"candidates"`
}

// Trace is how [Matcher.Match] chose a chain, or failed to.
type Trace struct {
	// Chain is what Match returns: an index, or -1.
	Chain int `json:"chain"`
	// Steps are the criteria in Envoy's order, up to the one where no
	// branch matched.
	Steps []Step `json:"steps"`
}

// criteria names the match tree's levels, in order.
var criteria = [levelLeaf]string{
	"destination_port", "prefix_ranges", "server_names", "transport_protocol", "application_protocols",
	"direct_source_prefix_ranges", "source_type", "source_prefix_ranges", "source_ports",
}

// Trace walks the match tree for ci as Match does, with the same steps,
// and records each. It allocates, and is meant for explaining a decision
// (meshlb explain), not for serving connections.
func (m *Matcher) Trace(ci *ConnInfo) Trace {
	tr := Trace{Chain: -1}
	if m == nil {
		return tr
	}
	n := m.root
	for lv := levelDstPort; lv < levelLeaf; lv++ {
		next := n.step(lv, ci)
		st := Step{Criterion: criteria[lv], Value: connValue(lv, ci)}
		if next != nil {
			st.Branch = n.branch(lv, next)
			st.Candidates = next.leaves(nil)
			slices.Sort(st.Candidates)
		}
		tr.Steps = append(tr.Steps, st)
		if next == nil {
			return tr
		}
		n = next
	}
	tr.Chain = n.chain
	return tr
}

// Trace is [Matcher.Trace] for the handler's chains, whose indexes it
// reports; -1 means the default chain, if any, serves the connection.
func (h *Handler) Trace(ci *ConnInfo) Trace { return h.matcher.Trace(ci) }

// connValue renders ci's value at level lv.
func connValue(lv int, ci *ConnInfo) string {
	switch lv {
	case levelDstPort:
		return strconv.Itoa(int(ci.Local.Port()))
	case levelDstIP:
		return ci.Local.Addr().Unmap().String()
	case levelServerName:
		return quoteOrNone(ci.ServerName)
	case levelTransport:
		return transport(ci)
	case levelALPN:
		if len(ci.ApplicationProtocols) == 0 {
			return "(none)"
		}
		return strings.Join(ci.ApplicationProtocols, ",")
	case levelDirectSrcIP:
		return ci.DirectRemote.Addr().Unmap().String()
	case levelSrcType:
		if isLocal(ci) {
			return "SAME_IP_OR_LOOPBACK"
		}
		return "EXTERNAL"
	case levelSrcIP:
		return ci.Remote.Addr().Unmap().String()
	default:
		return strconv.Itoa(int(ci.Remote.Port()))
	}
}

func quoteOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return strconv.Quote(s)
}

// branch renders the key under which n holds child at level lv.
func (n *node) branch(lv int, child *node) string {
	for p, c := range n.ports {
		if c == child {
			return anyOr(p == 0, "", strconv.Itoa(int(p)))
		}
	}
	for _, pn := range n.prefixes {
		if pn.next == child {
			return anyOr(pn.prefix.Bits() == 0, pn.prefix.String(), pn.prefix.String())
		}
	}
	for k, c := range n.names {
		if c == child {
			if lv == levelServerName && strings.HasPrefix(k, ".") {
				k = "*" + k
			}
			return anyOr(k == "", "", strconv.Quote(k))
		}
	}
	for t, c := range n.types {
		if c == child {
			return anyOr(spec.SourceType(t) == spec.SourceAny, "", sourceTypes[t])
		}
	}
	return fmt.Sprintf("level %d", lv)
}

var sourceTypes = [3]string{"ANY", "SAME_IP_OR_LOOPBACK", "EXTERNAL"}

// anyOr renders a branch: "any" for the chains that leave the criterion
// empty (with what that stands for, if anything), else value.
func anyOr(isAny bool, standsFor, value string) string {
	switch {
	case isAny && standsFor != "":
		return "any (" + standsFor + ")"
	case isAny:
		return "any"
	}
	return value
}

// leaves appends the chains under n, each once.
func (n *node) leaves(out []int) []int {
	if n.chain >= 0 && !slices.Contains(out, n.chain) {
		out = append(out, n.chain)
	}
	for _, c := range n.ports {
		out = c.leaves(out)
	}
	for _, c := range n.names {
		out = c.leaves(out)
	}
	for _, pn := range n.prefixes {
		out = pn.next.leaves(out)
	}
	for _, c := range n.types {
		if c != nil {
			out = c.leaves(out)
		}
	}
	return out
}
