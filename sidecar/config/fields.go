package config

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// fieldSet is the set of fields of one message type that a decoder
// understands. Anything else set in a message of that type changes
// semantics the data plane does not implement, so [fieldSet.check] rejects
// it. fieldSets are built at package init and are safe for concurrent use.
type fieldSet struct {
	desc protoreflect.MessageDescriptor
	// allowed is indexed by field number: a slice, not a map, as check
	// runs for every message of every resource decoded.
	allowed []bool
}

// allow returns the fieldSet of m's type admitting the fields named (proto
// names). It panics if a name is not a field of m: allow lists are fixed at
// init, so a typo fails every test.
func allow(m proto.Message, names ...string) *fieldSet {
	desc := m.ProtoReflect().Descriptor()
	s := &fieldSet{desc: desc}
	for _, n := range names {
		fd := desc.Fields().ByName(protoreflect.Name(n))
		if fd == nil {
			panic(fmt.Sprintf("config: %s has no field %q", desc.FullName(), n))
		}
		if int(fd.Number()) >= len(s.allowed) {
			s.allowed = append(s.allowed, make([]bool, int(fd.Number())+1-len(s.allowed))...)
		}
		s.allowed[fd.Number()] = true
	}
	return s
}

// check returns an error naming the lowest-numbered field set in m that s
// does not admit, or m's first unknown field (a field newer than our copy
// of the API, which may change semantics too). A nil m passes.
// In proto3 a scalar is set when it is not zero, so a default value (an
// enum's zero, false, "") never fails.
func (s *fieldSet) check(m proto.Message) error {
	r := m.ProtoReflect()
	if !r.IsValid() {
		return nil
	}
	if r.Descriptor() != s.desc {
		panic(fmt.Sprintf("config: checking %s against the fields of %s", r.Descriptor().FullName(), s.desc.FullName()))
	}
	var bad []protoreflect.FieldDescriptor
	r.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if n := int(fd.Number()); n >= len(s.allowed) || !s.allowed[n] {
			bad = append(bad, fd)
		}
		return true
	})
	if len(bad) > 0 {
		slices.SortFunc(bad, func(a, b protoreflect.FieldDescriptor) int { return cmp.Compare(a.Number(), b.Number()) })
		return errorf(string(bad[0].Name()), "not supported")
	}
	if u := r.GetUnknown(); len(u) > 0 {
		num, _, _ := protowire.ConsumeTag(u)
		return errorf("", "unknown field number %d is not supported", num)
	}
	return nil
}

// validator is implemented by every message protoc-gen-validate generates.
type validator interface{ ValidateAll() error }

// validate runs m's generated validation rules.
func validate(m validator) error {
	if err := m.ValidateAll(); err != nil {
		return validationError(err)
	}
	return nil
}

// typeURL is the Any type URL of m's type.
func typeURL(m proto.Message) string {
	return "type.googleapis.com/" + string(m.ProtoReflect().Descriptor().FullName())
}

// unpack decodes a into m, whose type must match a's type URL, and
// validates it: PGV does not look inside Any.
func unpack[M interface {
	proto.Message
	validator
}](a *anypb.Any, m M) error {
	if err := proto.Unmarshal(a.GetValue(), m); err != nil {
		return errorf("", "decoding %s: %v", a.GetTypeUrl(), err)
	}
	return validate(m)
}

// durationOr returns d, or def when d is unset. A negative or out-of-range
// d is an error.
func durationOr(d *durationpb.Duration, def time.Duration) (time.Duration, error) {
	if d == nil {
		return def, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, errorf("", "%v", err)
	}
	if v := d.AsDuration(); v >= 0 {
		return v, nil
	}
	return 0, errorf("", "must not be negative")
}
