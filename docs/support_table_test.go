package docs

// runtimeTests maps each ✓ row of xds-support.md ("Section / field", as
// TestSupportedFieldsHaveRuntimeTests prints it) to tests that show the field's
// effect at run time: traffic through sockets, or the data-plane package fed the
// decoded spec and observed doing what the row says. A test that only decodes
// the field does not count.
var runtimeTests = map[string][]string{
	"Listener / name":                                                         {"TestRemovedListenerDrains", "TestUpdateKeepsConnections"},
	"Listener / address.socket_address":                                       {"TestUpdateKeepsConnections", "TestFilterChainMatch"},
	"Listener / filter_chains[]":                                              {"TestFilterChainMatch", "TestHandlerSelectsBySocket"},
	"Listener / default_filter_chain":                                         {"TestHandlerSelectsBySocket"},
	"Listener / filter_chains[].filters[]":                                    {"TestLocalRateLimitBeforeTCPProxy", "TestLocalRateLimitBeforeHTTP"},
	"Listener / filter_chains[].filter_chain_match":                           {"TestFilterChainMatch", "TestMatchPrecedence"},
	"Listener / filter_chains[].name":                                         {"TestChainsKeepServers", "TestChainsSharingAName"},
	"Listener / filter_chains[].transport_socket":                             {"TestTLSTerminatingTCPProxy", "TestSNISelectsTerminatingChain"},
	"Listener / filter_chains[].transport_socket_connect_timeout":             {"TestServerHandshakeTimeout"},
	"Listener / listener_filters[]":                                           {"TestTLSInspectorRoutesBySNI", "TestTLSInspector"},
	"Listener / listener_filters_timeout":                                     {"TestTLSInspectorTimeout"},
	"Listener / continue_on_listener_filters_timeout":                         {"TestTLSInspectorTimeout"},
	"listener.TlsInspector / close_connection_on_client_hello_parsing_errors": {"TestTLSInspectorParseError"},

	"FilterChainMatch / destination_port":              {"TestHandlerDestinationPort", "TestMatchPrecedence"},
	"FilterChainMatch / prefix_ranges[]":               {"TestFilterChainMatch", "TestMatchPrecedence"},
	"FilterChainMatch / server_names":                  {"TestTLSInspectorRoutesBySNI", "TestSNISelectsTerminatingChain"},
	"FilterChainMatch / transport_protocol":            {"TestTLSInspectorRoutesBySNI", "TestMatchPrecedence"},
	"FilterChainMatch / application_protocols":         {"TestTLSInspector", "TestMatchPrecedence"},
	"FilterChainMatch / direct_source_prefix_ranges[]": {"TestHandlerSelectsBySocket", "TestMatchPrecedence"},
	"FilterChainMatch / source_type":                   {"TestHandlerSelectsBySocket", "TestMatchPrecedence"},
	"FilterChainMatch / source_prefix_ranges[]":        {"TestFilterChainMatch", "TestMatchPrecedence"},
	"FilterChainMatch / source_ports[]":                {"TestFilterChainMatch", "TestMatchPrecedence"},

	"network.LocalRateLimit / stat_prefix":     {"TestRateLimitBuild", "TestRateLimitClosesConnections"},
	"network.LocalRateLimit / token_bucket":    {"TestRateLimitClosesConnections", "TestLocalRateLimitBeforeTCPProxy"},
	"network.LocalRateLimit / runtime_enabled": {"TestRateLimitBuild"},

	"network.TcpProxy / stat_prefix":  {"TestTCPProxyStatPrefix"},
	"network.TcpProxy / cluster":      {"TestRelayEchoes", "TestTCPMaxConnections"},
	"network.TcpProxy / idle_timeout": {"TestIdleTimeoutClosesQuietConnection", "TestIdleTimeoutSparesOneWayTraffic"},

	"network.HttpConnectionManager / stat_prefix":             {"TestCxActiveSurvivesStatPrefixChange"},
	"network.HttpConnectionManager / rds":                     {"TestApplyErrorKeepsRunningConfig", "TestFileMeshFollowsEdits"},
	"network.HttpConnectionManager / route_config":            {"TestUpdateKeepsConnections"},
	"network.HttpConnectionManager / http_filters":            {"TestFilterOrderThroughSockets"},
	"network.HttpConnectionManager / stream_idle_timeout":     {"TestStreamIdleTimeoutReachesListener"},
	"network.HttpConnectionManager / request_timeout":         {"TestHCMRequestOptions", "TestSlowRequestGets408"},
	"network.HttpConnectionManager / request_headers_timeout": {"TestHCMRequestOptions", "TestSlowRequestGets408"},
	"network.HttpConnectionManager / http_protocol_options":   {"TestHCMRequestOptions", "TestAuthorityAndHTTP10"},
	"network.HttpConnectionManager / use_remote_address":      {"TestUseRemoteAddress"},

	"http.LocalRateLimit / stat_prefix":                                {"TestHTTPFilterStats"},
	"http.LocalRateLimit / token_bucket":                               {"TestLocalRateLimitThroughSockets", "TestLocalRateLimitRefill"},
	"http.LocalRateLimit / filter_enabled":                             {"TestLocalRateLimitFractions"},
	"http.LocalRateLimit / filter_enforced":                            {"TestLocalRateLimitFractions"},
	"http.LocalRateLimit / status":                                     {"TestLocalRateLimitReply", "TestLocalRateLimitReplyThroughSockets"},
	"http.LocalRateLimit / response_headers_to_add[]":                  {"TestLocalRateLimitReply", "TestLocalRateLimitReplyThroughSockets"},
	"http.LocalRateLimit / request_headers_to_add_when_not_enforced[]": {"TestLocalRateLimitFractions"},

	"http.HTTPFault / delay.fixed_delay":   {"TestFault", "TestFaultThroughSockets"},
	"http.HTTPFault / delay.header_delay":  {"TestFault"},
	"http.HTTPFault / delay.percentage":    {"TestFault", "TestFaultHeaderPercentage"},
	"http.HTTPFault / abort.http_status":   {"TestFault", "TestFaultThroughSockets"},
	"http.HTTPFault / abort.header_abort":  {"TestFault", "TestFaultHeaderPercentage"},
	"http.HTTPFault / abort.percentage":    {"TestFault", "TestFaultHeaderPercentage"},
	"http.HTTPFault / abort.response_body": {"TestFault"},
	"http.HTTPFault / headers[]":           {"TestFault"},
	"http.HTTPFault / max_active_faults":   {"TestFaultMaxActive", "TestFaultMaxActiveThroughSockets"},

	"RouteConfiguration / virtual_hosts[]":                         {"TestMatch"},
	"RouteConfiguration / validate_clusters":                       {"TestValidateClusters"},
	"RouteConfiguration / virtual_hosts[].name, .domains, .routes": {"TestMatch"},
	"RouteConfiguration / virtual_hosts[].typed_per_filter_config": {"TestLocalRateLimitVirtualHost"},

	"Route / name":                    {"TestStreamInfoFields"},
	"Route / match":                   {"TestMatch", "TestRoundRobinAndRouting"},
	"Route / route":                   {"TestRoundRobinAndRouting"},
	"Route / direct_response":         {"TestMatch", "TestFaultBeforeDirectResponse"},
	"Route / typed_per_filter_config": {"TestLocalRateLimitPerRoute", "TestPerRouteOverride"},

	"RouteMatch / prefix, path, path_separated_prefix": {"TestMatch"},
	"RouteMatch / safe_regex":                          {"TestMatch"},
	"RouteMatch / case_sensitive":                      {"TestMatch"},
	"RouteMatch / headers[]":                           {"TestMatch"},
	"RouteMatch / query_parameters[]":                  {"TestMatch"},

	"RouteAction / cluster":           {"TestRoundRobinAndRouting"},
	"RouteAction / weighted_clusters": {"TestWeightedPick"},
	"RouteAction / timeout":           {"TestRouteTimeoutSpansTries", "TestPendingRequestRouteTimeout"},
	"RouteAction / retry_policy":      {"TestRetries", "TestRetryPreviousHosts", "TestMaxRetries"},

	"Cluster / connect_timeout":                           {"TestDialConnectTimeout"},
	"Cluster / typed_extension_protocol_options":          {"TestTypedProtocolOptionsIdleTimeout", "TestBootstrapADS"},
	"Cluster / lb_policy":                                 {"TestDefaultPolicyIsRoundRobin", "TestLeastRequestPrefersIdle", "TestRandomWeighted"},
	"Cluster / load_assignment":                           {"TestRoundRobinAndRouting"},
	"Cluster / circuit_breakers.thresholds[]":             {"TestHTTPCircuitBreakers", "TestTCPMaxConnections", "TestMaxRetries"},
	"Cluster / common_http_protocol_options.idle_timeout": {"TestUpstreamIdleTimeout"},
	"Cluster / health_checks[]":                           {"TestHealthCheckersOutliveSnapshots", "TestActiveHealthCheckKillAndRestart"},
	"Cluster / health_checks[].timeout, interval, healthy_threshold, unhealthy_threshold":          {"TestCheckTimeout", "TestInterval", "TestHTTPCheckStatuses"},
	"Cluster / health_checks[].initial_jitter, interval_jitter, interval_jitter_percent":           {"TestInitialJitterSpreadsChecks", "TestIntervalJitter"},
	"Cluster / health_checks[].no_traffic_interval":                                                {"TestCheckSchedule"},
	"Cluster / health_checks[].unhealthy_interval, unhealthy_edge_interval, healthy_edge_interval": {"TestCheckSchedule"},
	"Cluster / health_checks[].always_log_health_check_failures":                                   {"TestAlwaysLogFailures"},
	"Cluster / health_checks[].http_health_check":                                                  {"TestHTTPCheckStatuses"},
	"Cluster / health_checks[].tcp_health_check":                                                   {"TestTCPCheckDetectsAndRecovers"},
	"Cluster / health_checks[].grpc_health_check":                                                  {"TestGRPCCheck"},
	"Cluster / transport_socket":                                                                   {"TestMTLSHop", "TestUpstreamDial"},

	"DownstreamTlsContext / common_tls_context":         {"TestTLSTerminatingTCPProxy", "TestServerHandshake"},
	"DownstreamTlsContext / require_client_certificate": {"TestServerHandshake"},
	"UpstreamTlsContext / common_tls_context":           {"TestMTLSHop", "TestUpstreamDial"},

	"CommonTlsContext / tls_certificates[]":                                 {"TestServerHandshake", "TestMTLSHop"},
	"CommonTlsContext / validation_context.trusted_ca":                      {"TestServerHandshake"},
	"CommonTlsContext / validation_context.match_typed_subject_alt_names[]": {"TestServerHandshake"},
	"CommonTlsContext / tls_params.tls_minimum_protocol_version":            {"TestServerMinVersion"},

	"ClusterLoadAssignment / endpoints[]":                                                {"TestRoundRobinAndRouting"},
	"ClusterLoadAssignment / endpoints[].priority":                                       {"TestSkipsUnusableAndUsesBestPriority"},
	"ClusterLoadAssignment / endpoints[].lb_endpoints[].endpoint.address.socket_address": {"TestRoundRobinAndRouting"},
	"ClusterLoadAssignment / …lb_endpoints[].load_balancing_weight":                      {"TestRoundRobinWeighted"},
	"ClusterLoadAssignment / …lb_endpoints[].health_status":                              {"TestSkipsUnusableAndUsesBestPriority", "TestUsableCombinesHealth"},

	"network.TcpProxy / weighted_clusters.clusters[]": {"TestTCPProxyWeightedClusters"},
	"Route / redirect":                                           {"TestRouteRewritesRedirectAndGRPC"},
	"RouteMatch / grpc: {}":                                      {"TestRouteRewritesRedirectAndGRPC"},
	"RouteAction / prefix_rewrite":                               {"TestRouteRewritesRedirectAndGRPC"},
	"RouteAction / host_rewrite_literal":                         {"TestRouteRewritesRedirectAndGRPC"},
	"UpstreamTlsContext / sni":                                   {"TestUpstreamSNIAndALPN"},
	"CommonTlsContext / alpn_protocols[]":                        {"TestServerTLSParams", "TestUpstreamSNIAndALPN"},
	"CommonTlsContext / tls_params.tls_maximum_protocol_version": {"TestServerTLSParams"},
	"CommonTlsContext / tls_params.cipher_suites[]":              {"TestServerTLSParams"},
	"Bootstrap / admin.address.socket_address":                   {"TestShutdownDrainsInFlightRequests"},
	"Bootstrap / static_resources.listeners[]":                   {"TestShutdownDrainsInFlightRequests"},
	"Bootstrap / static_resources.clusters[]":                    {"TestShutdownDrainsInFlightRequests"},
	"Cluster / name":                                             {"TestRouteRewritesRedirectAndGRPC", "TestTCPProxyWeightedClusters"},
	"Cluster / type":                                             {"TestFileMeshFollowsEdits", "TestRouteRewritesRedirectAndGRPC"},
	"Cluster / eds_cluster_config":                               {"TestFileMeshFollowsEdits"},
	"ClusterLoadAssignment / cluster_name":                       {"TestFileMeshFollowsEdits"},
	"RouteConfiguration / name":                                  {"TestApplyErrorKeepsRunningConfig", "TestFileMeshFollowsEdits"},
	"Bootstrap / dynamic_resources.ads_config":                   {"TestBootstrapADS"},
	"Bootstrap / dynamic_resources.lds_config, .cds_config":      {"TestBootstrapADS"},
	"Bootstrap / node.id, node.cluster":                          {"TestBootstrapADS"},
	"Bootstrap / overload_manager.resource_monitors[]":           {"TestLimitConnections"},
}

// missingRuntimeTests lists ✓ rows for which no runtime test was found (or one
// was found but not checked to show the row's effect). The test logs them; each
// should move to runtimeTests with a test.
var missingRuntimeTests = map[string][]string{}
