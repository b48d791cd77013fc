package spec

import "time"

// AccessLog is one access log of an HTTP connection manager or a TCP
// proxy (Envoy's config.accesslog.v3.AccessLog with a file, stdout,
// stderr or gRPC access logger).
type AccessLog struct {
	// Path is the file written; "/dev/stdout" and "/dev/stderr" for the
	// stdout and stderr loggers. Empty for a gRPC logger.
	Path string
	// GRPC, when set, sends the entries to an access log service instead
	// of a file: HTTP entries (http_grpc), or TCP entries when TCP
	// (tcp_grpc).
	GRPC *GRPCAccessLog
	TCP  bool
	// Format is the text format (text_format, text_format_source), or
	// Envoy's default when empty and JSON is nil.
	Format string
	// JSON, when set, makes each line a JSON object (json_format).
	JSON *JSONFormat
	// OmitEmpty is omit_empty_values: an operator without a value writes
	// nothing in text ("" rather than "-") and drops its key in JSON.
	OmitEmpty bool
	// Filter selects what is logged; nil logs everything.
	Filter *AccessLogFilter
}

// GRPCAccessLog is an http_grpc or tcp_grpc access logger's common_config:
// the access log service (envoy.service.accesslog.v3) of a cluster.
type GRPCAccessLog struct {
	LogName string
	Cluster string
	// FlushInterval is how long entries wait to be sent together
	// (buffer_flush_interval; 0: 1s, Envoy's default).
	FlushInterval time.Duration
	// BufferSize bounds the bytes of entries batched before they are
	// sent (buffer_size_bytes; 0: 16384, Envoy's default).
	BufferSize uint32
	// Request/ResponseHeaders and ResponseTrailers are the additional
	// header names logged (lower case).
	RequestHeaders, ResponseHeaders, ResponseTrailers []string
}

// JSONFormat is a json_format object: each field a format string, a
// typed constant (number, bool, null) or a nested object.
type JSONFormat struct {
	Fields []JSONField // in key order
}

// JSONField is one key of a json_format. Exactly one of Format, Const and
// Object is meaningful: Format when IsFormat, else Object when not nil,
// else Const (the JSON text of a number, bool or null).
type JSONField struct {
	Key      string
	IsFormat bool
	Format   string
	Const    string
	Object   *JSONFormat
}

// AccessLogFilterKind says what an access log filter tests.
type AccessLogFilterKind int

// Access log filter kinds, as Envoy's AccessLogFilter.filter_specifier.
const (
	StatusCodeFilter     AccessLogFilterKind = iota // the response code against Value
	DurationFilter                                  // the duration in ms against Value
	NotHealthCheckFilter                            // not a health check request
	TraceableFilter                                 // a traced request
	RuntimeFilter                                   // a random Fraction of requests
	AndFilter                                       // all of Children
	OrFilter                                        // any of Children
	HeaderFilter                                    // the request matches Header
	ResponseFlagFilter                              // any of Flags is set (any flag when empty)
	GRPCStatusFilter                                // the gRPC status is (or, Exclude, is not) one of GRPCStatuses
)

// CompareOp is a ComparisonFilter's op.
type CompareOp int

// Comparison ops, as Envoy's.
const (
	CompareEQ CompareOp = iota
	CompareGE
	CompareLE
	CompareNE
)

// AccessLogFilter is an access log filter.
type AccessLogFilter struct {
	Kind     AccessLogFilterKind
	Op       CompareOp
	Value    uint32
	Fraction Fraction
	Children []AccessLogFilter
	Header   HeaderMatch
	// Flags are Envoy's short response flag names ("UF", "NR"...).
	Flags []string
	// GRPCStatuses are gRPC status codes (0 OK ... 16 UNAUTHENTICATED).
	GRPCStatuses []int
	Exclude      bool
}
