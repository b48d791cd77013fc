package integration

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// The list in docs/consul.md of every field and filter Consul's xDS
// server sets in what it sends, each with its status, sits between these
// markers. TestConsulXDSResourcesDecode fills fieldSet from the recorded
// resources and checks the list against it (checkFieldList).
const (
	fieldsDoc   = "../docs/consul.md"
	fieldsBegin = "<!-- consul-fields:begin -->"
	fieldsEnd   = "<!-- consul-fields:end -->"
)

// fieldSet holds "<message>.<field>" for every field set, and
// "filter <type URL>" for every typed_config, in recorded resources.
type fieldSet map[string]bool

// add records the fields set in m and in every message under it; an Any
// counts as its type URL and is walked as the message it holds.
func (s fieldSet) add(m protoreflect.Message) {
	if a, ok := m.Interface().(*anypb.Any); ok {
		s["filter "+a.GetTypeUrl()] = true
		inner, err := a.UnmarshalNew()
		if err != nil {
			s["undecodable "+a.GetTypeUrl()] = true
			return
		}
		s.add(inner.ProtoReflect())
		return
	}
	name := strings.TrimPrefix(string(m.Descriptor().FullName()), "envoy.")
	if strings.HasPrefix(name, "google.protobuf.") {
		return // a wrapper, duration or struct: its field is recorded
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		s[name+"."+string(fd.Name())] = true
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				s.add(v.List().Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool { s.add(mv.Message()); return true })
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			s.add(v.Message())
		}
		return true
	})
}

// fieldRow is a row of the list: | `path` | status |.
var fieldRow = regexp.MustCompile("^\\| `([^`]+)` \\| (.*) \\|$")

// testName is a test named in a status.
var testName = regexp.MustCompile(`\bTest[A-Z]\w*`)

// repoTests returns the names of the test functions in the repository.
func repoTests(t *testing.T) map[string]bool {
	t.Helper()
	decl := regexp.MustCompile(`(?m)^func (Test[A-Z]\w*)\(`)
	out := map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		data, err := os.ReadFile(path)
		for _, m := range decl.FindAllSubmatch(data, -1) {
			out[string(m[1])] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readFieldList returns the statuses of the list in docs/consul.md.
func readFieldList(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(fieldsDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	in := false
	for sc := bufio.NewScanner(f); sc.Scan(); {
		switch line := sc.Text(); {
		case line == fieldsBegin:
			in = true
		case line == fieldsEnd:
			in = false
		case in:
			if m := fieldRow.FindStringSubmatch(line); m != nil {
				out[m[1]] = strings.TrimSpace(m[2])
			}
		}
	}
	return out
}

// checkFieldList fails for every field or filter Consul sent that the
// list in docs/consul.md lacks or leaves without a status, and logs
// those listed that this recording did not see. With
// MESHLB_CONSUL_FIELDS_OUT set it writes the list's rows, statuses kept
// and new ones marked TODO, to that file, to paste into the document.
func checkFieldList(t *testing.T, got fieldSet) {
	t.Helper()
	listed := readFieldList(t)
	var all []string
	for f := range got {
		all = append(all, f)
	}
	sort.Strings(all)
	for _, f := range all {
		if st := listed[f]; st == "" || st == "TODO" {
			t.Errorf("Consul sends %s, which the list in docs/consul.md does not mark (works, or NACKed on purpose)", f)
		}
	}
	tests := repoTests(t)
	for f, st := range listed {
		if !got[f] {
			t.Logf("listed in docs/consul.md but not sent in this recording: %s", f)
		}
		for _, name := range testName.FindAllString(st, -1) {
			if !tests[name] {
				t.Errorf("docs/consul.md cites %s for %s: no such test", name, f)
			}
		}
	}
	out := os.Getenv("MESHLB_CONSUL_FIELDS_OUT")
	if out == "" {
		return
	}
	var b strings.Builder
	for _, f := range all {
		st := listed[f]
		if st == "" {
			st = "TODO"
		}
		fmt.Fprintf(&b, "| `%s` | %s |\n", f, st)
	}
	if err := os.WriteFile(filepath.Clean(out), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
