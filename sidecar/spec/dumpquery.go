package spec

// DumpQuery selects part of a /config_dump, as the query parameters of
// Envoy's /config_dump do.
type DumpQuery struct {
	// Resource, when set, names a repeated field of one of the dump's
	// sections (dynamic_active_clusters, static_listeners, …): the dump
	// then lists each of its elements as one config (?resource=).
	Resource string
	// Mask is a field mask, comma-separated paths (?mask=), applied to
	// each section, or with Resource to each element, where a path may go
	// on into the resource the element wraps (cluster.name).
	Mask string
	// NameRegex keeps only the resources whose name it matches in full
	// (?name_regex=, RE2 syntax); empty keeps all.
	NameRegex string
	// IncludeEDS keeps the endpoints section, which Envoy leaves out
	// unless asked (?include_eds).
	IncludeEDS bool
	// Live, with IncludeEDS, are the endpoints as they are now: Envoy
	// renders the endpoints section from its hosts (their weight and
	// health), not from the load assignments it received. Nil: the load
	// assignments as received.
	Live *LiveEndpoints
}

// LiveEndpoints are the state of each cluster's endpoints, by cluster
// name and endpoint address.
type LiveEndpoints map[string]map[string]LiveEndpoint

// LiveEndpoint is an endpoint's weight in balancing and its health, as
// Envoy's coarse health folds it: Unhealthy when its EDS status is
// unhealthy or draining, it fails its active health check or is ejected;
// Degraded when EDS says so; else Healthy.
type LiveEndpoint struct {
	Weight uint32
	Health HealthStatus
}

// DumpQueryError is a [DumpQuery] a dump cannot answer. NotFound is set
// when Resource names a field of no section (Envoy answers 404); other
// errors are the query's (400).
type DumpQueryError struct {
	NotFound bool
	Msg      string
}

func (e *DumpQueryError) Error() string { return e.Msg }
