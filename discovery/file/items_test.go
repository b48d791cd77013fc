package file

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// declOpts compares fileDecls field by field.
var declOpts = cmp.Options{cmp.AllowUnexported(fileDecl{}, claim{}, ref{}), cmpopts.EquateEmpty()}

// sameAsWhole checks that parseCached with prev returns what parseFile
// returns for data, and reports whether it took the item path.
func sameAsWhole(t *testing.T, data string, prev items) (items, bool) {
	t.Helper()
	want, wantErr := parseFile("s.yaml", []byte(data))
	got, next, err := parseCached("s.yaml", []byte(data), prev)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("parseCached error = %v, parseFile error = %v", err, wantErr)
	}
	if diff := cmp.Diff(want, got, declOpts); diff != "" {
		t.Fatalf("parseCached differs from parseFile (-whole +cached):\n%s", diff)
	}
	return next, next != nil
}

const plainItems = `# services of the shop
services:
  - name: web
    protocol: http
    endpoints:
      - {address: 10.0.0.1, port: 80}
      - address: 10.0.0.2
        port: 80
        weight: 3
    sidecar:
      local_port: 8080
      inbound_port: 15000
      upstreams:
        - {service: db, bind_port: 9000}
# the database
  - name: db
    endpoints:
      - {address: 10.0.0.3, port: 5432, health: draining}
    sidecar:
      id: db-1
      local_port: 5432
      upstreams:
        - service: web
          bind_port: 9001
`

func TestParseCached(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		items bool // parsed item by item
	}{
		{name: "plain layout", data: plainItems, items: true},
		{name: "literal block in an item", data: "services:\n  - name: a\n    protocol: |-\n      http\n    endpoints: []\n", items: true},
		{name: "unknown upstream is merge's error", data: "services:\n  - name: a\n    sidecar: {upstreams: [{service: zz, bind_port: 1}]}\n", items: true},
		{name: "duplicate name", data: "services:\n  - name: a\n  - name: a\n"},
		{name: "duplicate sidecar id", data: "services:\n  - {name: a, sidecar: {id: x}}\n  - {name: b, sidecar: {id: x}}\n"},
		{name: "id of another's name", data: "services:\n  - {name: a, sidecar: {}}\n  - {name: b, sidecar: {id: a}}\n"},
		{name: "invalid port", data: "services:\n  - name: a\n  - name: b\n    endpoints: [{address: 10.0.0.1, port: 70000}]\n"},
		{name: "syntax error", data: "services:\n  - name: a\n  - name: [b\n"},
		{name: "anchors", data: "services:\n  - {name: a, endpoints: [&e {address: 10.0.0.1, port: 1}]}\n  - {name: b, endpoints: [*e]}\n"},
		{name: "unindented sequence", data: "services:\n- name: a\n"},
		{name: "another key", data: "services:\n  - name: a\nother: 1\n"},
		{name: "flow sequence", data: "services: [{name: a}]\n"},
		{name: "empty", data: "services:\n"},
		{name: "two documents", data: "services:\n  - name: a\n---\nservices:\n  - name: b\n"},
		{name: "tabs", data: "services:\n  - name: a\n\t\n"},
		{name: "item split by a dedented flow", data: "services:\n  - name: a\n    endpoints: [\n  {address: 10.0.0.1, port: 1}]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, items := sameAsWhole(t, tt.data, nil); items != tt.items {
				t.Errorf("parsed item by item: %v, want %v", items, tt.items)
			}
		})
	}
}

// TestParseCachedReuses edits one item and checks that the others are
// reused, not parsed again, and that the result is parseFile's.
func TestParseCachedReuses(t *testing.T) {
	first, ok := sameAsWhole(t, plainItems, nil)
	if !ok {
		t.Fatal("plain layout not parsed item by item")
	}
	edits := []string{
		strings.Replace(plainItems, "port: 5432,", "port: 5433,", 1),   // db's endpoint
		strings.Replace(plainItems, "# the database\n", "", 1),         // a comment, in web's item
		strings.Replace(plainItems, "services:\n", "services:\n\n", 1), // every item one line down
	}
	for i, edit := range edits {
		next, ok := sameAsWhole(t, edit, first)
		if !ok {
			t.Fatalf("edit %d not parsed item by item", i)
		}
		reused := 0
		for text, it := range next {
			if first[text] == it {
				reused++
			}
		}
		if reused == 0 && i != 2 {
			t.Errorf("edit %d: no item reused", i)
		}
		if i == 2 && reused != 2 {
			t.Errorf("edit %d (lines moved): %d items reused, want 2", i, reused)
		}
	}
}

// FuzzParseCached checks that parsing item by item, from nothing or from
// the items of another document, always gives parseFile's result.
func FuzzParseCached(f *testing.F) {
	f.Add([]byte(plainItems), []byte(strings.Replace(plainItems, "5432", "5433", 1)))
	f.Add([]byte("services:\n  - name: a\n"), []byte("services:\n  - name: a\n  - name: a\n"))
	f.Add([]byte(plainItems), []byte("services:\n  - name: db\n"))
	f.Fuzz(func(t *testing.T, before, after []byte) {
		prev, _ := sameAsWhole(t, string(before), nil)
		sameAsWhole(t, string(after), prev)
	})
}
