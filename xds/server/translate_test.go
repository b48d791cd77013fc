package server

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/meshlb/meshlb/discovery"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var allTypes = []string{resource.ClusterType, resource.EndpointType, resource.ListenerType, resource.RouteType}

func TestTranslateGolden(t *testing.T) {
	cat := testCatalog(t, nil)
	tests := []struct {
		name string
		node string
	}{
		{name: "http inbound, http and tcp upstreams", node: "web-sidecar"},
		{name: "tcp inbound, tcp upstream", node: "worker"},
		{name: "no inbound, service listed twice", node: "edge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, err := Translate(cat, tt.node)
			if err != nil {
				t.Fatalf("Translate: %v", err)
			}
			got := snapshotJSON(t, snap)
			path := filepath.Join("testdata", tt.node+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading golden file (run with -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
			}
		})
	}
}

// snapshotJSON renders snap as indented JSON with resources sorted by name.
// protojson output is deliberately unstable in whitespace, so each resource
// is compacted and the whole document re-indented by encoding/json.
func snapshotJSON(t *testing.T, snap *cache.Snapshot) []byte {
	t.Helper()
	doc := struct {
		Versions  map[string]string `json:"versions"`
		Resources map[string][]any  `json:"resources"`
	}{Versions: map[string]string{}, Resources: map[string][]any{}}
	for _, typ := range allTypes {
		short := typ[strings.LastIndex(typ, ".")+1:]
		doc.Versions[short] = snap.GetVersion(typ)
		doc.Resources[short] = []any{}
		res := snap.GetResources(typ)
		for _, name := range slices.Sorted(maps.Keys(res)) {
			b, err := protojson.Marshal(res[name])
			if err != nil {
				t.Fatalf("protojson.Marshal(%q): %v", name, err)
			}
			var c bytes.Buffer
			if err := json.Compact(&c, b); err != nil {
				t.Fatal(err)
			}
			doc.Resources[short] = append(doc.Resources[short], json.RawMessage(c.Bytes()))
		}
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestTranslateErrors(t *testing.T) {
	clash := testCatalog(t, func(m map[string]*discovery.Service) {
		m["local_app"] = &discovery.Service{Name: "local_app"}
		web := m["web"].Sidecar
		web.Upstreams = append(web.Upstreams, discovery.Upstream{Service: "local_app", BindPort: 9100})
	})
	tests := []struct {
		name string
		cat  *discovery.Catalog
		node string
		want string
	}{
		{name: "unknown node", cat: testCatalog(t, nil), node: "x",
			want: `node "x": no sidecar with this id in the catalog`},
		{name: "service id is not the sidecar id", cat: testCatalog(t, nil), node: "web",
			want: `node "web": no sidecar with this id in the catalog`},
		{name: "upstream named like the inbound cluster", cat: clash, node: "web-sidecar",
			want: `translating node "web-sidecar": translating upstream "local_app": the name is taken by the inbound cluster`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, err := Translate(tt.cat, tt.node)
			if err == nil {
				t.Fatalf("Translate = %v, want error %q", snap, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTranslateConsistentAndValid(t *testing.T) {
	tests := []struct {
		name string
		cat  *discovery.Catalog
	}{
		{name: "small", cat: testCatalog(t, nil)},
		{name: "100 services", cat: bigCatalog(t, 100)},
		{name: "no upstreams, no inbound", cat: mustCatalog(t, []discovery.Service{
			{Name: "lonely", Sidecar: &discovery.Sidecar{}},
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, svc := range tt.cat.Sidecars() {
				snap, err := Translate(tt.cat, svc.Sidecar.ID)
				if err != nil {
					t.Fatalf("Translate(%q): %v", svc.Sidecar.ID, err)
				}
				if err := snap.Consistent(); err != nil {
					t.Errorf("node %q: Consistent: %v", svc.Sidecar.ID, err)
				}
				checkResources(t, snap)
			}
		})
	}
}

// checkResources checks that every type has a version of 16 hex digits,
// that the delta version map holds go-control-plane's hash of every
// resource, and that every resource passes ValidateAll.
func checkResources(t *testing.T, snap *cache.Snapshot) {
	t.Helper()
	for _, typ := range allTypes {
		if got := snap.GetVersion(typ); len(got) != 16 {
			t.Errorf("version of %s = %q, want 16 hex digits", typ, got)
		}
		for name, r := range snap.GetResources(typ) {
			b, err := cache.MarshalResource(r)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := snap.GetVersionMap(typ)[name], cache.HashResource(b); got != want {
				t.Errorf("%s %q: version map has %q, want %q", typ, name, got, want)
			}
		}
		for name, r := range snap.GetResources(typ) {
			if err := r.(interface{ ValidateAll() error }).ValidateAll(); err != nil {
				t.Errorf("%s %q: ValidateAll: %v", typ, name, err)
			}
		}
	}
}

func mustCatalog(t testing.TB, svcs []discovery.Service) *discovery.Catalog {
	t.Helper()
	cat, err := discovery.New(svcs)
	if err != nil {
		t.Fatalf("discovery.New: %v", err)
	}
	return cat
}
