package config

import (
	"regexp"
	"strings"

	h2mv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_to_metadata/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// headerToMetadataNamespace is Envoy's namespace for a rule that names none.
const headerToMetadataNamespace = "envoy.filters.http.header_to_metadata"

var (
	h2mFields     = allow(&h2mv3.Config{}, "request_rules")
	h2mRuleFields = allow(&h2mv3.Config_Rule{}, "header", "on_header_present", "on_header_missing", "remove")
	h2mKVFields   = allow(&h2mv3.Config_KeyValuePair{}, "metadata_namespace", "key", "value", "regex_value_rewrite", "type")
	// envoyGroupRef is a \N group reference of RE2's Rewrite.
	envoyGroupRef = regexp.MustCompile(`\\([0-9])`)
)

// decodeHeaderToMetadata decodes Envoy's header_to_metadata filter:
// request rules on headers (cookies, response rules, typed values other
// than STRING and base64 encoding are rejected). Per-route configuration
// is not supported.
func decodeHeaderToMetadata(a *anypb.Any, perRoute bool) (any, error) {
	if perRoute {
		return nil, errorf("", "per-route configuration is not supported")
	}
	m := &h2mv3.Config{}
	if err := unpack(a, m); err != nil {
		return nil, err
	}
	if err := h2mFields.check(m); err != nil {
		return nil, err
	}
	out := &spec.HeaderToMetadata{}
	for i, r := range m.GetRequestRules() {
		rule, err := decodeH2MRule(r)
		if err != nil {
			return nil, within(index("request_rules", i), err)
		}
		out.Rules = append(out.Rules, rule)
	}
	return out, nil
}

func decodeH2MRule(r *h2mv3.Config_Rule) (spec.HeaderToMetadataRule, error) {
	if err := h2mRuleFields.check(r); err != nil {
		return spec.HeaderToMetadataRule{}, err
	}
	out := spec.HeaderToMetadataRule{Header: lowerASCII(r.GetHeader()), Remove: r.GetRemove()}
	if out.Header == "" {
		return out, errorf("header", "required")
	}
	var err error
	if out.Present, err = decodeH2MValue(r.GetOnHeaderPresent()); err != nil {
		return out, within("on_header_present", err)
	}
	if out.Missing, err = decodeH2MValue(r.GetOnHeaderMissing()); err != nil {
		return out, within("on_header_missing", err)
	}
	if out.Missing != nil && out.Missing.Value == "" {
		return out, errorf("on_header_missing.value", "required: there is no header value to use")
	}
	return out, nil
}

// decodeH2MValue decodes a KeyValuePair; nil stays nil.
func decodeH2MValue(kv *h2mv3.Config_KeyValuePair) (*spec.MetadataValue, error) {
	if kv == nil {
		return nil, nil
	}
	if err := h2mKVFields.check(kv); err != nil {
		return nil, err
	}
	if t := kv.GetType(); t != h2mv3.Config_STRING {
		return nil, errorf("type", "%s is not supported: only STRING", t)
	}
	if kv.GetKey() == "" {
		return nil, errorf("key", "required")
	}
	out := &spec.MetadataValue{Namespace: kv.GetMetadataNamespace(), Key: kv.GetKey(), Value: kv.GetValue()}
	if out.Namespace == "" {
		out.Namespace = headerToMetadataNamespace
	}
	if rw := kv.GetRegexValueRewrite(); rw != nil {
		re, err := decodeRegex(rw.GetPattern())
		if err != nil {
			return nil, within("regex_value_rewrite.pattern", err)
		}
		out.Regex = re
		// RE2 writes groups \1, Go's regexp ${1}.
		sub := strings.ReplaceAll(rw.GetSubstitution(), "$", "$$")
		out.Substitution = envoyGroupRef.ReplaceAllString(sub, `$${$1}`)
	}
	return out, nil
}

// lowerASCII lower-cases a header name.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
