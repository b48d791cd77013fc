package spec

import "net/netip"

// Type URLs of Envoy's RBAC filters.
const (
	NetworkRBACType = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC"
	HTTPRBACType    = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
)

// RBAC is the configuration of Envoy's network or HTTP RBAC filter.
type RBAC struct {
	// StatPrefix is the network filter's stat_prefix, or the HTTP
	// filter's rules_stat_prefix.
	StatPrefix string
	// ShadowStatPrefix is shadow_rules_stat_prefix.
	ShadowStatPrefix string
	// Rules are enforced; nil (rules absent) allows everything.
	Rules *RBACRules
	// Shadow rules are evaluated and counted, never enforced; nil: none.
	Shadow *RBACRules
}

// RBACAction is what a matching policy means.
type RBACAction int

// RBAC actions, as envoy.config.rbac.v3.RBAC.Action.
const (
	RBACAllow RBACAction = iota // allowed when a policy matches
	RBACDeny                    // denied when a policy matches
	RBACLog                     // always allowed (Envoy only marks the stream for logging)
)

// RBACRules is envoy.config.rbac.v3.RBAC: an action and named policies.
type RBACRules struct {
	Action RBACAction
	// Policies are sorted by name; decoders sort them, so evaluation
	// order does not depend on map order.
	Policies []RBACPolicy
}

// RBACPolicy matches when any of its permissions and any of its
// principals match.
type RBACPolicy struct {
	Name        string
	Permissions []Permission
	Principals  []Principal
}

// PermissionKind says which field of a [Permission] is set.
type PermissionKind int

// Permission kinds, as envoy.config.rbac.v3.Permission.rule.
const (
	PermAny PermissionKind = iota
	PermHeader
	PermURLPath
	PermDestinationIP
	PermDestinationPort
	PermDestinationPortRange
	PermServerName // requested_server_name
	PermAnd
	PermOr
	PermNot
)

// Permission is one rule on what is accessed.
type Permission struct {
	Kind PermissionKind
	// Header is the header matched (PermHeader).
	Header HeaderMatch
	// Match is the path (PermURLPath, without the query) or the SNI
	// (PermServerName).
	Match StringMatch
	// CIDR is the destination (PermDestinationIP).
	CIDR netip.Prefix
	// Port is the destination port (PermDestinationPort); PortEnd, with
	// PermDestinationPortRange, the end of [Port, PortEnd).
	Port, PortEnd uint32
	// Rules are the rules of PermAnd and PermOr; Rules[0] is PermNot's.
	Rules []Permission
}

// PrincipalKind says which field of a [Principal] is set.
type PrincipalKind int

// Principal kinds, as envoy.config.rbac.v3.Principal.identifier.
const (
	PrinAny PrincipalKind = iota
	PrinAuthenticated
	PrinSourceIP       // source_ip: the downstream peer (PROXY protocol honoured)
	PrinDirectRemoteIP // direct_remote_ip: the socket's peer
	PrinRemoteIP       // remote_ip: the client as the listener infers it
	PrinHeader
	PrinURLPath
	PrinAnd
	PrinOr
	PrinNot
)

// Principal is one rule on who accesses.
type Principal struct {
	Kind PrincipalKind
	// Name matches the peer certificate's URI SANs, else its DNS SANs,
	// else its subject (PrinAuthenticated); nil matches any TLS peer.
	Name *StringMatch
	// Match is the path (PrinURLPath).
	Match  StringMatch
	CIDR   netip.Prefix
	Header HeaderMatch
	// IDs are the principals of PrinAnd and PrinOr; IDs[0] is PrinNot's.
	IDs []Principal
}
