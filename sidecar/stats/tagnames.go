package stats

import "strings"

// Envoy's default tag extractors: TagNameValues in Envoy's
// source/common/config/well_known_names.{h,cc}, in its order (the
// regular-expression ones, then the tokenized ones, as TagProducerImpl's
// addDefaultExtractors adds them). Regular expressions are RE2's syntax,
// which Go's regexp shares. Left out: the few whose tag name the
// well_known_names.h we checked does not define (ext_authz, the listener
// local rate limit, dns_filter, TLS curves, signature algorithms and
// versions); meshlb emits no stat they could match.
var defaultRegexTags = []defaultRegex{
	// *_rq(_<response_code>)
	{"envoy.response_code", `_rq(_(\d{3}))$`, "_rq_", ""},
	// *_rq_(<response_code_class>)xx
	{"envoy.response_code_class", `_rq_((\d))xx$`, "_rq_", ""},
	// http.[<stat_prefix>.]dynamodb.table.[<table_name>.]capacity.[<operation_name>.](__partition_id=<id>)
	{"envoy.dynamo_partition_id", `^http\.<TAG_VALUE>\.dynamodb\.table\.<TAG_VALUE>\.capacity\.<TAG_VALUE>(\.__partition_id=(\w{7}))$`, ".dynamodb.table.", ""},
	// http.[<stat_prefix>.]dynamodb.operation.(<operation_name>.)* or …capacity.(<operation_name>.)[<partition_id>]
	{"envoy.dynamo_operation", `^http\.<TAG_VALUE>\.dynamodb.(?:operation|table\.<TAG_VALUE>\.capacity)(\.(<TAG_VALUE>))(?:\.|$)`, ".dynamodb.", ""},
	// http.[<stat_prefix>.]dynamodb.(table|error).(<table_name>.)*
	{"envoy.dynamo_table", `^http\.<TAG_VALUE>\.dynamodb.(?:table|error)\.((<TAG_VALUE>)\.)`, ".dynamodb.", ""},
	// listener.[<address>.]ssl.ciphers.(<cipher>)
	{"envoy.ssl_cipher", `^listener\..*?\.ssl\.ciphers(\.(<CIPHER>))$`, ".ssl.ciphers.", ""},
	// cluster.[<cluster_name>.]ssl.ciphers.(<cipher>)
	{"cipher_suite", `^cluster\.<TAG_VALUE>\.ssl\.ciphers(\.(<CIPHER>))$`, ".ssl.ciphers.", ""},
	// listener.[<address>.]http.(<stat_prefix>.)*
	{"envoy.http_conn_manager_prefix", `^listener\..*?\.http\.((<TAG_VALUE>)\.)`, ".http.", ""},
	// listener.<address|stat_prefix>.(worker_<id>.)*, listener_manager.(worker_<id>.)*, server.(worker_<id>.)*
	{"envoy.worker_id", `^(?:listener\.(?:<ADDRESS>|<TAG_VALUE>)\.|server\.|listener_manager\.)worker_((\d+)\.)`, "", ""},
	// listener.(<address|stat_prefix>.)*, except "admin"
	{"envoy.listener_address", `^listener\.((<ADDRESS>|<TAG_VALUE>)\.)`, "", "admin"},
	// http.[<stat_prefix>.]rds.(<route_config_name>.)<base_stat>
	{"envoy.rds_route_config", `^http\.<TAG_VALUE>\.rds\.((<ROUTE_CONFIG_NAME>)\.)\w+?$`, ".rds.", ""},
}

// defaultTokenTags are Envoy's tokenized default extractors: "$" is the
// tag's value, "*" any one token, "**" one or more.
var defaultTokenTags = [][2]string{
	{"envoy.mongo_callsite", "mongo.*.collection.*.callsite.$.query.**"},
	{"envoy.mongo_collection", "mongo.*.collection.$.**.query.*"},
	{"envoy.mongo_cmd", "mongo.*.cmd.$.**"},
	{"envoy.grpc_bridge_method", "cluster.*.grpc.*.$.**"},
	{"envoy.http_user_agent", "http.*.user_agent.$.**"},
	{"envoy.virtual_cluster", "vhost.*.vcluster.$.**"},
	{"envoy.fault_downstream_cluster", "http.*.fault.$.**"},
	{"envoy.grpc_bridge_service", "cluster.*.grpc.$.**"},
	{"envoy.tcp_prefix", "tcp.$.**"},
	{"envoy.udp_prefix", "udp.$.**"},
	{"envoy.clientssl_prefix", "auth.clientssl.$.**"},
	{"envoy.ratelimit_prefix", "ratelimit.$.**"},
	{"envoy.cluster_name", "cluster.$.**"},
	{"envoy.http_conn_manager_prefix", "http.$.**"},
	{"envoy.virtual_host", "vhost.$.**"},
	{"envoy.mongo_prefix", "mongo.$.**"},
	{"envoy.route", "vhost.*.route.$.**"},
	{"envoy.thrift_prefix", "thrift.$.**"},
	{"envoy.redis_prefix", "redis.$.**"},
	{"envoy.local_http_ratelimit_prefix", "$.http_local_rate_limit.**"},
	{"envoy.local_network_ratelimit_prefix", "local_rate_limit.$.**"},
}

// defaultRegex is one of Envoy's RE2 default extractors: its tag name,
// regular expression (with Envoy's <…> placeholders), a substring a stat
// name must contain for it to be tried, and a value it must not take.
type defaultRegex struct{ name, regex, substr, negative string }

// expandRegex replaces the placeholders of Envoy's expandRegex.
var expandRegex = strings.NewReplacer(
	"<ADDRESS>", `(?:(?:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[[a-fA-F_\d]+\])_\d+)`,
	"<CIPHER>", `[\w-]+`,
	"<TLS_VERSION>", `TLSv\d\.\d`,
	"<TAG_VALUE>", `[^\.]+`,
	"<ROUTE_CONFIG_NAME>", `[\w-\.]+`,
	"<LISTENER_OR_CLUSTER_WITH_NAME>", `(?:listener|cluster)\..*?`,
).Replace
