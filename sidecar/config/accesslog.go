package config

import (
	"slices"
	"strings"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/meshlb/meshlb/sidecar/format"
	"github.com/meshlb/meshlb/sidecar/spec"
)

var (
	logFields             = allow(&accesslogv3.AccessLog{}, "name", "typed_config", "filter")
	fileLogFields         = allow(&filev3.FileAccessLog{}, "path", "log_format")
	stdoutAccessLogFields = allow(&streamv3.StdoutAccessLog{}, "log_format")
	stderrAccessLogFields = allow(&streamv3.StderrAccessLog{}, "log_format")
	logFormatFields       = allow(&corev3.SubstitutionFormatString{}, "text_format", "text_format_source",
		"json_format", "omit_empty_values", "content_type")

	stdoutAccessLogType = typeURL(&streamv3.StdoutAccessLog{})
	stderrAccessLogType = typeURL(&streamv3.StderrAccessLog{})
)

// decodeAccessLogs decodes an access_log list (HCM's, or tcp_proxy's
// when tcp is set).
func decodeAccessLogs(logs []*accesslogv3.AccessLog, tcp bool) ([]spec.AccessLog, error) {
	var out []spec.AccessLog
	for i, l := range logs {
		d, err := decodeAccessLog(l, tcp)
		if err != nil {
			return nil, within(index("", i), err)
		}
		out = append(out, d)
	}
	return out, nil
}

func decodeAccessLog(l *accesslogv3.AccessLog, tcp bool) (spec.AccessLog, error) {
	var out spec.AccessLog
	if err := logFields.check(l); err != nil {
		return out, err
	}
	if err := decodeLogger(l.GetTypedConfig(), tcp, &out); err != nil {
		return out, within("typed_config", err)
	}
	if f := l.GetFilter(); f != nil {
		d, err := decodeAccessFilter(f)
		if err != nil {
			return out, within("filter", err)
		}
		out.Filter = &d
	}
	return out, nil
}

// decodeLogger decodes a file, stdout, stderr or gRPC access logger.
func decodeLogger(tc *anypb.Any, tcp bool, out *spec.AccessLog) error {
	if tc == nil {
		return errorf("", "required")
	}
	var lf *corev3.SubstitutionFormatString
	switch tc.GetTypeUrl() {
	case fileAccessLogType:
		m := &filev3.FileAccessLog{}
		if err := unpackChecked(tc, m, fileLogFields.check); err != nil {
			return err
		}
		if out.Path = m.GetPath(); out.Path == "" {
			return errorf("path", "must not be empty")
		}
		lf = m.GetLogFormat()
	case stdoutAccessLogType:
		m := &streamv3.StdoutAccessLog{}
		if err := unpackChecked(tc, m, stdoutAccessLogFields.check); err != nil {
			return err
		}
		out.Path, lf = "/dev/stdout", m.GetLogFormat()
	case stderrAccessLogType:
		m := &streamv3.StderrAccessLog{}
		if err := unpackChecked(tc, m, stderrAccessLogFields.check); err != nil {
			return err
		}
		out.Path, lf = "/dev/stderr", m.GetLogFormat()
	default:
		return decodeGRPCLogger(tc, tcp, out)
	}
	if lf == nil {
		return nil
	}
	return wrapIf("log_format", decodeLogFormat(lf, out))
}

// decodeLogFormat decodes a SubstitutionFormatString. content_type is
// accepted and has no effect: it types local replies, not log lines.
func decodeLogFormat(f *corev3.SubstitutionFormatString, out *spec.AccessLog) error {
	if err := logFormatFields.check(f); err != nil {
		return err
	}
	out.OmitEmpty = f.GetOmitEmptyValues()
	switch {
	case f.GetTextFormat() != "":
		out.Format = f.GetTextFormat()
	case f.GetTextFormatSource() != nil:
		src := f.GetTextFormatSource()
		if err := dataSourceFields.check(src); err != nil {
			return within("text_format_source", err)
		}
		out.Format = src.GetInlineString() + string(src.GetInlineBytes())
		if _, err := format.Parse(out.Format, true); err != nil {
			return errorf("text_format_source", "%v", err)
		}
		return nil
	case f.GetJsonFormat() != nil:
		j, err := decodeJSONFormat(f.GetJsonFormat())
		if err != nil {
			return within("json_format", err)
		}
		out.JSON = j
		return nil
	}
	if _, err := format.Parse(out.Format, true); err != nil {
		return errorf("text_format", "%v", err)
	}
	return nil
}

// decodeJSONFormat decodes a json_format object: format strings, typed
// constants and nested objects, keys sorted.
func decodeJSONFormat(s *structpb.Struct) (*spec.JSONFormat, error) {
	out := &spec.JSONFormat{}
	for k, v := range s.GetFields() {
		f := spec.JSONField{Key: k}
		switch kv := v.GetKind().(type) {
		case *structpb.Value_StringValue:
			if _, err := format.Parse(kv.StringValue, true); err != nil {
				return nil, errorf(k, "%v", err)
			}
			f.IsFormat, f.Format = true, kv.StringValue
		case *structpb.Value_StructValue:
			o, err := decodeJSONFormat(kv.StructValue)
			if err != nil {
				return nil, within(k, err)
			}
			f.Object = o
		case *structpb.Value_ListValue:
			return nil, errorf(k, "lists are not supported")
		default:
			b, err := v.MarshalJSON()
			if err != nil {
				return nil, errorf(k, "%v", err)
			}
			f.Const = string(b)
		}
		out.Fields = append(out.Fields, f)
	}
	slices.SortFunc(out.Fields, func(a, b spec.JSONField) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// unpackChecked unpacks a into m and checks m's fields.
func unpackChecked[M interface {
	proto.Message
	validator
}](a *anypb.Any, m M, check func(proto.Message) error) error {
	if err := unpack(a, m); err != nil {
		return err
	}
	return check(m)
}
