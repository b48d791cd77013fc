// Code in this package decodes into the plain specs of sidecar/spec; these
// aliases let the decoder and its callers name them as config.X.

package config

import "github.com/meshlb/meshlb/sidecar/spec"

// Spec types, decoded by this package (see [spec]).
type (
	Set             = spec.Set
	Listener        = spec.Listener
	TCPProxy        = spec.TCPProxy
	HTTPManager     = spec.HTTPManager
	RouteConfig     = spec.RouteConfig
	VirtualHost     = spec.VirtualHost
	Route           = spec.Route
	PathMatch       = spec.PathMatch
	RouteMatch      = spec.RouteMatch
	StringMatchKind = spec.StringMatchKind
	StringMatch     = spec.StringMatch
	HeaderMatch     = spec.HeaderMatch
	QueryMatch      = spec.QueryMatch
	WeightedCluster = spec.WeightedCluster
	RouteAction     = spec.RouteAction
	RetryPolicy     = spec.RetryPolicy
	RetryBudget     = spec.RetryBudget
	DirectResponse  = spec.DirectResponse
	Redirect        = spec.Redirect
	DiscoveryType   = spec.DiscoveryType
	LBPolicy        = spec.LBPolicy
	Cluster         = spec.Cluster
	RingHash        = spec.RingHash
	LeastRequest    = spec.LeastRequest
	PeakEWMA        = spec.PeakEWMA
	SlowStart       = spec.SlowStart
	ZoneAware       = spec.ZoneAware
	HealthStatus    = spec.HealthStatus
	Endpoint        = spec.Endpoint
	LoadAssignment  = spec.LoadAssignment
	ADS             = spec.ADS
	Bootstrap       = spec.Bootstrap
)

// Spec constants, re-exported for the decoder.
const (
	PathPrefix          = spec.PathPrefix
	PathExact           = spec.PathExact
	PathRegex           = spec.PathRegex
	PathSeparatedPrefix = spec.PathSeparatedPrefix
	MatchExact          = spec.MatchExact
	MatchPrefix         = spec.MatchPrefix
	MatchSuffix         = spec.MatchSuffix
	MatchContains       = spec.MatchContains
	MatchRegex          = spec.MatchRegex
	MatchPresent        = spec.MatchPresent
	DiscoveryStatic     = spec.DiscoveryStatic
	DiscoveryEDS        = spec.DiscoveryEDS
	Healthy             = spec.Healthy
	Unhealthy           = spec.Unhealthy
	Draining            = spec.Draining
	Degraded            = spec.Degraded
)

// Filter chain spec types, decoded by this package (see [spec]).
type (
	FilterChain      = spec.FilterChain
	FilterChainMatch = spec.FilterChainMatch
	NetworkFilter    = spec.NetworkFilter
	LocalRateLimit   = spec.LocalRateLimit
	TokenBucket      = spec.TokenBucket
	TLSInspector     = spec.TLSInspector
)
