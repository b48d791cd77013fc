package config

import (
	"regexp"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

var (
	routeMatchFields = allow(&routev3.RouteMatch{},
		"prefix", "path", "safe_regex", "path_separated_prefix",
		"case_sensitive", "headers", "query_parameters", "grpc")
	grpcMatchFields     = allow(&routev3.RouteMatch_GrpcRouteMatchOptions{})
	headerMatcherFields = allow(&routev3.HeaderMatcher{},
		"name", "exact_match", "safe_regex_match", "present_match", "prefix_match",
		"suffix_match", "contains_match", "string_match", "invert_match")
	queryMatcherFields  = allow(&routev3.QueryParameterMatcher{}, "name", "string_match", "present_match")
	stringMatcherFields = allow(&matcherv3.StringMatcher{},
		"exact", "prefix", "suffix", "safe_regex", "contains", "ignore_case")
	regexFields     = allow(&matcherv3.RegexMatcher{}, "regex", "google_re2")
	googleRE2Fields = allow(&matcherv3.RegexMatcher_GoogleRE2{})
)

// decodeMatch decodes a route match; case_sensitive defaults to true.
func decodeMatch(m *routev3.RouteMatch) (RouteMatch, error) {
	if err := routeMatchFields.check(m); err != nil {
		return RouteMatch{}, err
	}
	out := RouteMatch{CaseSensitive: true}
	if cs := m.GetCaseSensitive(); cs != nil {
		out.CaseSensitive = cs.GetValue()
	}
	if err := decodePath(m, &out); err != nil {
		return RouteMatch{}, err
	}
	if g := m.GetGrpc(); g != nil {
		if err := grpcMatchFields.check(g); err != nil {
			return RouteMatch{}, within("grpc", err)
		}
		out.GRPC = true
	}
	for i, h := range m.GetHeaders() {
		hm, err := decodeHeaderMatch(h)
		if err != nil {
			return RouteMatch{}, within(index("headers", i), err)
		}
		out.Headers = append(out.Headers, hm)
	}
	for i, q := range m.GetQueryParameters() {
		qm, err := decodeQueryMatch(q)
		if err != nil {
			return RouteMatch{}, within(index("query_parameters", i), err)
		}
		out.Query = append(out.Query, qm)
	}
	return out, nil
}

// decodePath sets out.Kind and out.Path from m's path specifier.
func decodePath(m *routev3.RouteMatch, out *RouteMatch) error {
	switch p := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		out.Kind, out.Path = PathPrefix, p.Prefix
	case *routev3.RouteMatch_Path:
		out.Kind, out.Path = PathExact, p.Path
	case *routev3.RouteMatch_PathSeparatedPrefix:
		out.Kind, out.Path = PathSeparatedPrefix, p.PathSeparatedPrefix
	case *routev3.RouteMatch_SafeRegex:
		src, err := decodeRegex(p.SafeRegex)
		if err != nil {
			return within("safe_regex", err)
		}
		out.Kind, out.Path = PathRegex, src
	default:
		return errorf("path_specifier", "one of prefix, path, safe_regex or path_separated_prefix is required")
	}
	return nil
}

// decodeHeaderMatch decodes a header matcher. Its name is lower-cased. No
// specifier means "present", and present_match false means "absent".
func decodeHeaderMatch(h *routev3.HeaderMatcher) (HeaderMatch, error) {
	if err := headerMatcherFields.check(h); err != nil {
		return HeaderMatch{}, err
	}
	out := HeaderMatch{Name: strings.ToLower(h.GetName()), Invert: h.GetInvertMatch()}
	var err error
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case nil:
		out.Match.Kind = MatchPresent
	case *routev3.HeaderMatcher_PresentMatch:
		out.Match.Kind = MatchPresent
		if !s.PresentMatch {
			out.Invert = !out.Invert
		}
	case *routev3.HeaderMatcher_ExactMatch:
		out.Match = StringMatch{Kind: MatchExact, Value: s.ExactMatch}
	case *routev3.HeaderMatcher_PrefixMatch:
		out.Match = StringMatch{Kind: MatchPrefix, Value: s.PrefixMatch}
	case *routev3.HeaderMatcher_SuffixMatch:
		out.Match = StringMatch{Kind: MatchSuffix, Value: s.SuffixMatch}
	case *routev3.HeaderMatcher_ContainsMatch:
		out.Match = StringMatch{Kind: MatchContains, Value: s.ContainsMatch}
	case *routev3.HeaderMatcher_SafeRegexMatch:
		out.Match.Kind = MatchRegex
		out.Match.Value, err = decodeRegex(s.SafeRegexMatch)
		err = wrapIf("safe_regex_match", err)
	case *routev3.HeaderMatcher_StringMatch:
		out.Match, err = decodeStringMatch(s.StringMatch)
		err = wrapIf("string_match", err)
	default: // unreachable: check rejects the other specifiers
		err = errorf("header_match_specifier", "not supported")
	}
	return out, err
}

// decodeQueryMatch decodes a query parameter matcher. No specifier means
// "present"; present_match false is rejected.
func decodeQueryMatch(q *routev3.QueryParameterMatcher) (QueryMatch, error) {
	if err := queryMatcherFields.check(q); err != nil {
		return QueryMatch{}, err
	}
	out := QueryMatch{Name: q.GetName(), Match: StringMatch{Kind: MatchPresent}}
	switch s := q.GetQueryParameterMatchSpecifier().(type) {
	case *routev3.QueryParameterMatcher_PresentMatch:
		if !s.PresentMatch {
			return QueryMatch{}, errorf("present_match", "false is not supported")
		}
	case *routev3.QueryParameterMatcher_StringMatch:
		m, err := decodeStringMatch(s.StringMatch)
		if err != nil {
			return QueryMatch{}, within("string_match", err)
		}
		out.Match = m
	}
	return out, nil
}

// decodeStringMatch decodes a type.matcher.v3.StringMatcher.
func decodeStringMatch(m *matcherv3.StringMatcher) (StringMatch, error) {
	if err := stringMatcherFields.check(m); err != nil {
		return StringMatch{}, err
	}
	out := StringMatch{IgnoreCase: m.GetIgnoreCase()}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		out.Kind, out.Value = MatchExact, p.Exact
	case *matcherv3.StringMatcher_Prefix:
		out.Kind, out.Value = MatchPrefix, p.Prefix
	case *matcherv3.StringMatcher_Suffix:
		out.Kind, out.Value = MatchSuffix, p.Suffix
	case *matcherv3.StringMatcher_Contains:
		out.Kind, out.Value = MatchContains, p.Contains
	case *matcherv3.StringMatcher_SafeRegex:
		src, err := decodeRegex(p.SafeRegex)
		if err != nil {
			return StringMatch{}, within("safe_regex", err)
		}
		out.Kind, out.Value = MatchRegex, src
	default:
		return StringMatch{}, errorf("match_pattern", "one of exact, prefix, suffix, contains or safe_regex is required")
	}
	return out, nil
}

// decodeRegex returns the source of a RE2 regex matcher once it compiles
// with Go's regexp (RE2 syntax).
func decodeRegex(r *matcherv3.RegexMatcher) (string, error) {
	if err := regexFields.check(r); err != nil {
		return "", err
	}
	if err := googleRE2Fields.check(r.GetGoogleRe2()); err != nil {
		return "", within("google_re2", err)
	}
	if _, err := regexp.Compile(r.GetRegex()); err != nil {
		return "", errorf("regex", "%v", err)
	}
	return r.GetRegex(), nil
}
