package config

import (
	"fmt"
	"regexp"
	"strings"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshlb/meshlb/sidecar/spec"
)

const anyName = "google.protobuf.Any"

// QueryDump answers q over dump, a whole config dump as [Dump] renders
// it, as Envoy's /config_dump answers its query parameters
// (source/server/admin/config_dump_handler.cc):
//   - the endpoints section only with IncludeEDS;
//   - NameRegex keeps the resources whose name (a cluster's, a
//     listener's, a route configuration's, a load assignment's
//     cluster_name) it matches in full;
//   - Resource lists each element of the repeated field of that name
//     (dynamic_active_clusters …) as one config, each trimmed to Mask,
//     whose paths may go on into the resource the element wraps
//     (cluster.name); a field of no section is a NotFound
//     [spec.DumpQueryError], a field that is not repeated another;
//   - Mask alone trims each section it is valid for and drops the others,
//     an error if it is valid for none.
//
// QueryDump is safe for concurrent use.
func QueryDump(dump []byte, q spec.DumpQuery) ([]byte, error) {
	match, err := nameMatcher(q.NameRegex)
	if err != nil {
		return nil, err
	}
	in := &adminv3.ConfigDump{}
	if err := protojson.Unmarshal(dump, in); err != nil {
		return nil, fmt.Errorf("reading the config dump: %w", err)
	}
	all, err := readSections(in, q)
	if err != nil {
		return nil, err
	}
	var sections []proto.Message
	for _, m := range all {
		if _, eds := m.(*adminv3.EndpointsConfigDump); eds && !q.IncludeEDS {
			continue
		}
		if match != nil {
			if err := keepNamed(m.ProtoReflect(), match); err != nil {
				return nil, err
			}
		}
		sections = append(sections, m)
	}
	var out []proto.Message
	if q.Resource != "" {
		out, err = resourceConfigs(sections, q.Resource, maskPaths(q.Mask))
	} else {
		out, err = maskedSections(sections, q.Mask)
	}
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return []byte("{\n  \"configs\": []\n}"), nil
	}
	return marshalDump(out...)
}

// readSections returns the sections of in; with q.IncludeEDS and q.Live,
// the endpoints section is rendered from the live endpoints, as Envoy's.
func readSections(in *adminv3.ConfigDump, q spec.DumpQuery) ([]proto.Message, error) {
	var out []proto.Message
	var clusters []*adminv3.ClustersConfigDump
	for i, a := range in.GetConfigs() {
		m, err := a.UnmarshalNew()
		if err != nil {
			return nil, fmt.Errorf("reading config %d of the dump: %w", i, err)
		}
		if c, ok := m.(*adminv3.ClustersConfigDump); ok {
			clusters = append(clusters, c)
		}
		out = append(out, m)
	}
	if !q.IncludeEDS || q.Live == nil {
		return out, nil
	}
	for i, m := range out {
		if e, ok := m.(*adminv3.EndpointsConfigDump); ok {
			live, err := liveEndpointsDump(clusters, e, *q.Live)
			if err != nil {
				return nil, fmt.Errorf("rendering the endpoints: %w", err)
			}
			out[i] = live
		}
	}
	return out, nil
}

// nameMatcher compiles ?name_regex= to match whole names; nil for none.
func nameMatcher(expr string) (func(string) bool, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile(`^(?:` + expr + `)$`)
	if err != nil {
		return nil, &spec.DumpQueryError{Msg: fmt.Sprintf("Error while parsing name_regex from %s: %v", expr, err)}
	}
	return re.MatchString, nil
}

// maskPaths splits a field mask; nil for none.
func maskPaths(mask string) []string {
	var out []string
	for p := range strings.SplitSeq(mask, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// keepNamed drops from each repeated field of section the resources whose
// name match rejects.
func keepNamed(section protoreflect.Message, match func(string) bool) error {
	fields := section.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !fd.IsList() || fd.Message() == nil || !section.Has(fd) {
			continue
		}
		list := section.Mutable(fd).List()
		kept := 0
		for j := range list.Len() {
			el := list.Get(j)
			name, ok, err := resourceName(el.Message())
			if err != nil {
				return err
			}
			if ok && !match(name) {
				continue
			}
			list.Set(kept, el)
			kept++
		}
		list.Truncate(kept)
	}
	return nil
}

// resourceName returns the name of the resource a dump element holds: its
// own name field (a DynamicListener's) or that of the resource in its Any
// field (name, or a load assignment's cluster_name).
func resourceName(el protoreflect.Message) (string, bool, error) {
	if name, ok := stringField(el, "name"); ok {
		return name, true, nil
	}
	fields := el.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsList() || fd.Message() == nil || fd.Message().FullName() != anyName || !el.Has(fd) {
			continue
		}
		inner, err := anyOf(el, fd).UnmarshalNew()
		if err != nil {
			return "", false, fmt.Errorf("reading %s of the dump: %w", fd.Name(), err)
		}
		if name, ok := stringField(inner.ProtoReflect(), "name"); ok {
			return name, true, nil
		}
		name, ok := stringField(inner.ProtoReflect(), "cluster_name")
		return name, ok, nil
	}
	return "", false, nil
}

// stringField returns the singular string field name of m, if set.
func stringField(m protoreflect.Message, name protoreflect.Name) (string, bool) {
	fd := m.Descriptor().Fields().ByName(name)
	if fd == nil || fd.IsList() || fd.Kind() != protoreflect.StringKind {
		return "", false
	}
	s := m.Get(fd).String()
	return s, s != ""
}

// anyOf returns the Any in field fd of m.
func anyOf(m protoreflect.Message, fd protoreflect.FieldDescriptor) *anypb.Any {
	a, ok := m.Get(fd).Message().Interface().(*anypb.Any)
	if !ok { // a dynamic message: copy it into the concrete type
		a = &anypb.Any{}
		b, _ := proto.Marshal(m.Get(fd).Message().Interface())
		proto.Unmarshal(b, a)
	}
	return a
}
