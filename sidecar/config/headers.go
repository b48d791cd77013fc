package config

import (
	"regexp"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"github.com/meshlb/meshlb/sidecar/format"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// routeHeaderOptionFields are those of a HeaderValueOption in a route
// configuration's header lists; headerValueFields bound its header.
var routeHeaderOptionFields = allow(&corev3.HeaderValueOption{}, "header", "append", "append_action", "keep_empty_value")

// headerLists is what the three levels of a route configuration (the
// configuration, a virtual host, a route) have in common.
type headerLists interface {
	GetRequestHeadersToAdd() []*corev3.HeaderValueOption
	GetRequestHeadersToRemove() []string
	GetResponseHeadersToAdd() []*corev3.HeaderValueOption
	GetResponseHeadersToRemove() []string
}

// headerListFields are the field names of headerLists.
var headerListFields = []string{"request_headers_to_add", "request_headers_to_remove",
	"response_headers_to_add", "response_headers_to_remove"}

// decodeMutations decodes one level's header lists. As Envoy, pseudo
// headers and Host may not be added or removed; the sidecar also refuses
// the framing headers (content-length, transfer-encoding, connection),
// which its codecs derive the body's framing from.
func decodeMutations(l headerLists) (spec.HeaderMutations, error) {
	var out spec.HeaderMutations
	var err error
	if out.RequestAdd, err = decodeHeaderAdds(l.GetRequestHeadersToAdd(), true); err != nil {
		return out, within("request_headers_to_add", err)
	}
	if out.ResponseAdd, err = decodeHeaderAdds(l.GetResponseHeadersToAdd(), false); err != nil {
		return out, within("response_headers_to_add", err)
	}
	if out.RequestRemove, err = decodeRemoves(l.GetRequestHeadersToRemove(), true); err != nil {
		return out, within("request_headers_to_remove", err)
	}
	if out.ResponseRemove, err = decodeRemoves(l.GetResponseHeadersToRemove(), false); err != nil {
		return out, within("response_headers_to_remove", err)
	}
	return out, nil
}

func decodeHeaderAdds(hs []*corev3.HeaderValueOption, request bool) ([]spec.HeaderAdd, error) {
	var out []spec.HeaderAdd
	for i, h := range hs {
		a, err := decodeHeaderAdd(h, request)
		if err != nil {
			return nil, within(index("", i), err)
		}
		out = append(out, a)
	}
	return out, nil
}

var appendActions = map[corev3.HeaderValueOption_HeaderAppendAction]spec.AppendAction{
	corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:    spec.AppendIfExistsOrAdd,
	corev3.HeaderValueOption_ADD_IF_ABSENT:              spec.AddIfAbsent,
	corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD: spec.OverwriteIfExistsOrAdd,
	corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:        spec.OverwriteIfExists,
}

func decodeHeaderAdd(h *corev3.HeaderValueOption, request bool) (spec.HeaderAdd, error) {
	if err := routeHeaderOptionFields.check(h); err != nil {
		return spec.HeaderAdd{}, err
	}
	if err := headerValueFields.check(h.GetHeader()); err != nil {
		return spec.HeaderAdd{}, within("header", err)
	}
	name := strings.ToLower(h.GetHeader().GetKey())
	if err := checkMutable(name, request); err != nil {
		return spec.HeaderAdd{}, within("header.key", err)
	}
	out := spec.HeaderAdd{Name: name, Value: h.GetHeader().GetValue(), KeepEmpty: h.GetKeepEmptyValue()}
	act, ok := appendActions[h.GetAppendAction()]
	if !ok {
		return spec.HeaderAdd{}, errorf("append_action", "%s is not supported", h.GetAppendAction())
	}
	out.Action = act
	if a := h.GetAppend(); a != nil {
		if h.GetAppendAction() != corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD {
			return spec.HeaderAdd{}, errorf("append", "must not be set with append_action")
		}
		if !a.GetValue() {
			out.Action = spec.OverwriteIfExistsOrAdd
		}
	}
	if _, err := format.Parse(out.Value, false); err != nil {
		return spec.HeaderAdd{}, within("header.value", errorf("", "%v", err))
	}
	return out, nil
}

func decodeRemoves(names []string, request bool) ([]string, error) {
	var out []string
	for i, n := range names {
		n = strings.ToLower(n)
		if err := checkMutable(n, request); err != nil {
			return nil, within(index("", i), err)
		}
		out = append(out, n)
	}
	return out, nil
}

// checkMutable refuses the headers a route configuration may not change.
func checkMutable(name string, request bool) error {
	switch {
	case name == "":
		return errorf("", "a header name must not be empty")
	case strings.HasPrefix(name, ":"):
		return errorf("", "pseudo-header %q may not be modified", name)
	case request && name == "host":
		return errorf("", "header \"host\" may not be modified (use host_rewrite_literal or host_rewrite_header)")
	case name == "content-length" || name == "transfer-encoding" || name == "connection" || name == "upgrade":
		return errorf("", "framing header %q may not be modified", name)
	}
	return nil
}

var regexRewriteFields = allow(&matcherv3.RegexMatchAndSubstitute{}, "pattern", "substitution")

// decodeRewrites decodes a route action's regex_rewrite and
// host_rewrite_header (host_rewrite_literal is decoded with the action).
// Envoy allows one path rewrite and one Host rewrite.
func decodeRewrites(a *routev3.RouteAction, out *RouteAction) error {
	if h := a.GetHostRewriteHeader(); h != "" {
		out.HostRewriteHeader = strings.ToLower(h)
	}
	rr := a.GetRegexRewrite()
	if rr == nil {
		return nil
	}
	if err := regexRewriteFields.check(rr); err != nil {
		return within("regex_rewrite", err)
	}
	if a.GetPrefixRewrite() != "" {
		return errorf("regex_rewrite", "must not be set with prefix_rewrite")
	}
	pat, err := decodeRegex(rr.GetPattern())
	if err != nil {
		return within("regex_rewrite.pattern", err)
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return within("regex_rewrite.pattern", errorf("", "%v", err))
	}
	sub := rr.GetSubstitution()
	for i := 0; i+1 < len(sub); i++ {
		if sub[i] == '\\' && sub[i+1] >= '0' && sub[i+1] <= '9' && int(sub[i+1]-'0') > re.NumSubexp() {
			return errorf("regex_rewrite.substitution", "\\%c names no group of the pattern", sub[i+1])
		}
	}
	out.RegexRewrite = &spec.RegexRewrite{Pattern: pat, Substitution: sub}
	return nil
}
