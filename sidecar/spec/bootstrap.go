package spec

// StatsTag is one of stats_config.stats_tags: a tag named Name whose
// value is either Fixed on every stat, or extracted from a stat's name by
// Regex. As in Envoy's TagSpecifier, Regex's first capture group is cut
// from the name, and the tag's value is the second group if there is one,
// else the first. With neither (Default), the tag is Envoy's default
// extractor of that name.
type StatsTag struct {
	Name    string
	Regex   string // empty when Fixed is set
	Fixed   string
	Default bool // no regex and no fixed_value
}

// StatsConfig is the bootstrap's stats_config.
type StatsConfig struct {
	// Tags are the tag specifiers, in order.
	Tags []StatsTag
	// NoDefaultTags is use_all_default_tags: false, which leaves out
	// Envoy's default tag extractors.
	NoDefaultTags bool
}

// Header is a name and a value, as gRPC initial_metadata.
type Header struct {
	Key, Value string
}
