// Package transport holds the TLS transport sockets: [NewServer]
// terminates TLS on a listener's filter chain (Envoy's
// DownstreamTlsContext) and [Upstream] originates it to a cluster's
// endpoints (UpstreamTlsContext). Both are built from plain spec types
// with crypto/tls; peer certificates are verified against the configured
// CA and subject alternative name matchers (SPIFFE IDs in URI SANs).
package transport
