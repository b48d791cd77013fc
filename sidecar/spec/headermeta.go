package spec

// HeaderToMetadataType is the type URL of Envoy's header_to_metadata HTTP
// filter configuration.
const HeaderToMetadataType = "type.googleapis.com/envoy.extensions.filters.http.header_to_metadata.v3.Config"

// HeaderToMetadata is Envoy's header_to_metadata HTTP filter: request
// rules that turn a request header into dynamic metadata.
type HeaderToMetadata struct {
	Rules []HeaderToMetadataRule
}

// HeaderToMetadataRule is one request rule: when the request has Header
// (lower case), Present is set; when it has not, Missing is. Remove drops
// the header from the request afterwards.
type HeaderToMetadataRule struct {
	Header           string
	Present, Missing *MetadataValue
	Remove           bool
}

// MetadataValue is a metadata key under a namespace (Envoy's default
// namespace is the filter's name, envoy.filters.http.header_to_metadata)
// and how its value is made: Value when set, else the header's value,
// rewritten by Regex and Substitution (Go's regexp syntax, $1 for a
// group) when Regex is set. An empty result sets nothing.
type MetadataValue struct {
	Namespace, Key      string
	Value               string
	Regex, Substitution string
}
