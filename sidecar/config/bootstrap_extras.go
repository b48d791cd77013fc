package config

import (
	"regexp"
	"strconv"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	metricsv3 "github.com/envoyproxy/go-control-plane/envoy/config/metrics/v3"
	filelogv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stats"
)

// The parts of a bootstrap that `consul connect envoy` writes besides the
// resources: the admin access log, stats_config and layered_runtime.

var (
	accessLogFields     = allow(&accesslogv3.AccessLog{}, "name", "typed_config")
	fileAccessLogFields = allow(&filelogv3.FileAccessLog{}, "path")
	fileAccessLogType   = typeURL(&filelogv3.FileAccessLog{})
	statsConfigFields   = allow(&metricsv3.StatsConfig{}, "stats_tags", "use_all_default_tags")
	tagFields           = allow(&metricsv3.TagSpecifier{}, "tag_name", "regex", "fixed_value")
	runtimeFields       = allow(&bootstrapv3.LayeredRuntime{}, "layers")
	layerFields         = allow(&bootstrapv3.RuntimeLayer{}, "name", "static_layer", "admin_layer")
)

// decodeAdminLogs returns the files admin requests are logged to:
// access_log_path and each access_log, which must be a file sink
// (FileAccessLog with a path and Envoy's default format).
func decodeAdminLogs(a *bootstrapv3.Admin) ([]string, error) {
	var out []string
	if p := a.GetAccessLogPath(); p != "" {
		out = append(out, p)
	}
	for i, l := range a.GetAccessLog() {
		p, err := decodeFileLog(l)
		if err != nil {
			return nil, within(index("access_log", i), err)
		}
		out = append(out, p)
	}
	return out, nil
}

// decodeFileLog returns the path of a file access log.
func decodeFileLog(l *accesslogv3.AccessLog) (string, error) {
	if err := accessLogFields.check(l); err != nil {
		return "", err
	}
	tc := l.GetTypedConfig()
	if tc.GetTypeUrl() != fileAccessLogType {
		return "", errorf("typed_config", "only %s is supported", fileAccessLogType)
	}
	f := &filelogv3.FileAccessLog{}
	if err := unpack(tc, f); err != nil {
		return "", within("typed_config", err)
	}
	if err := fileAccessLogFields.check(f); err != nil {
		return "", within("typed_config", err)
	}
	return f.GetPath(), nil
}

// decodeStatsConfig decodes stats_config's tag specifiers as Envoy's
// TagProducerImpl reads them: a regex (which must compile: Go's RE2
// syntax), a fixed_value, or neither, which names one of Envoy's default
// tags; use_all_default_tags: false leaves the default tags out.
func decodeStatsConfig(sc *metricsv3.StatsConfig) (spec.StatsConfig, error) {
	if err := statsConfigFields.check(sc); err != nil {
		return spec.StatsConfig{}, err
	}
	out := spec.StatsConfig{}
	if u := sc.GetUseAllDefaultTags(); u != nil && !u.GetValue() {
		out.NoDefaultTags = true
	}
	for i, t := range sc.GetStatsTags() {
		if err := tagFields.check(t); err != nil {
			return spec.StatsConfig{}, within(index("stats_tags", i), err)
		}
		_, fixed := t.GetTagValue().(*metricsv3.TagSpecifier_FixedValue)
		tag := spec.StatsTag{Name: t.GetTagName(), Regex: t.GetRegex(), Fixed: t.GetFixedValue(), Default: !fixed && t.GetRegex() == ""}
		if tag.Regex != "" {
			if _, err := regexp.Compile(tag.Regex); err != nil {
				return spec.StatsConfig{}, errorf(index("stats_tags", i)+".regex", "%v", err)
			}
		}
		out.Tags = append(out.Tags, tag)
		if _, err := stats.NewTagProducer(spec.StatsConfig{Tags: []spec.StatsTag{tag}, NoDefaultTags: true}); err != nil {
			return spec.StatsConfig{}, errorf(index("stats_tags", i), "%v", err)
		}
	}
	return out, nil
}

// decodeRuntime flattens layered_runtime's static layers into dotted keys.
// Admin layers (empty, writable through /runtime_modify) are accepted;
// disk and RTDS layers are not supported.
func decodeRuntime(lr *bootstrapv3.LayeredRuntime) (map[string]string, error) {
	if err := runtimeFields.check(lr); err != nil {
		return nil, err
	}
	var out map[string]string
	for i, l := range lr.GetLayers() {
		if err := layerFields.check(l); err != nil {
			return nil, within(index("layers", i), err)
		}
		if out == nil {
			out = make(map[string]string)
		}
		if err := flatten("", l.GetStaticLayer().GetFields(), out); err != nil {
			return nil, within(index("layers", i)+".static_layer", err)
		}
	}
	return out, nil
}

// flatten writes the leaves of a static layer under prefix into out.
// Lists are not runtime values (Envoy rejects them too).
func flatten(prefix string, fields map[string]*structpb.Value, out map[string]string) error {
	for k, v := range fields {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		switch x := v.GetKind().(type) {
		case *structpb.Value_StructValue:
			if err := flatten(key, x.StructValue.GetFields(), out); err != nil {
				return err
			}
		case *structpb.Value_ListValue:
			return errorf(key, "a list is not a runtime value")
		case *structpb.Value_NumberValue:
			out[key] = strconv.FormatFloat(x.NumberValue, 'f', -1, 64)
		case *structpb.Value_BoolValue:
			out[key] = strconv.FormatBool(x.BoolValue)
		case *structpb.Value_StringValue:
			out[key] = x.StringValue
		}
	}
	return nil
}
