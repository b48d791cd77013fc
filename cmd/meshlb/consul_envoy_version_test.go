package main

import (
	"bytes"
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// consulEnvoyVersions is, for each Consul version `consul connect envoy`
// is checked against, the MESHLB_ENVOY_VERSION docs/consul.md tells its
// users to set ("" for none: meshlb's own envoyVersion passes).
var consulEnvoyVersions = []struct{ consul, setting string }{
	{"v1.19.2", ""}, {"v1.20.6", ""}, {"v1.21.0", ""}, {"v1.22.0", "1.32.0"},
}

// envoySupport is what `consul connect envoy` of one Consul version checks
// an Envoy version against (command/connect/envoy's
// checkEnvoyVersionCompatibility): the ENVOY_VERSIONS list and
// UnsupportedEnvoyVersions of the envoyextensions module its go.mod
// requires.
type envoySupport struct {
	extensions  string   // envoyextensions module version
	versions    []string // newest first
	unsupported []string
}

// TestConsulEnvoyVersionCheck runs `meshlb --version` as Consul does and
// applies each Consul version's own compatibility check to what Consul
// reads from it, with that version's lists, read from the Consul and
// envoyextensions modules (fetched through the module proxy: Consul's
// source is BUSL-1.1 and is not kept here). The check's code is not
// copied: the test fails if its shape (">= min, < max+1 minor", "!= each
// unsupported") or the version regexp changes, so that consulAccepts is
// revisited. No one version passes every Consul's check (their ranges do
// not overlap); if one ever does, the test asks for it to be meshlb's
// default.
func TestConsulEnvoyVersionCheck(t *testing.T) {
	common := [2]int{0, 1 << 30} // minor versions every Consul accepts: [lo, hi)
	for _, cv := range consulEnvoyVersions {
		s := loadEnvoySupport(t, cv.consul)
		lo, hi := minorOf(t, s.versions[len(s.versions)-1]), minorOf(t, s.versions[0])+1
		t.Logf("Consul %s (envoyextensions %s): Envoy 1.%d.x to 1.%d.x, unsupported %v", cv.consul, s.extensions, lo, hi-1, s.unsupported)
		common = [2]int{max(common[0], lo), min(common[1], hi)}
		t.Setenv("MESHLB_ENVOY_VERSION", cv.setting)
		var out bytes.Buffer
		if err := runEnvoy(context.Background(), []string{"--version"}, &out); err != nil {
			t.Fatal(err)
		}
		v := consulVersionRE.FindString(out.String())
		if !consulAccepts(t, v, s) {
			t.Errorf("Consul %s refuses `meshlb --version` = %q (MESHLB_ENVOY_VERSION=%q): it accepts 1.%d.x to 1.%d.x",
				cv.consul, v, cv.setting, lo, hi-1)
		}
	}
	if common[0] < common[1] {
		t.Errorf("every Consul accepts Envoy 1.%d.x to 1.%d.x: make one of them envoyVersion and drop the settings", common[0], common[1]-1)
	}
}

// consulAccepts is checkEnvoyVersionCompatibility of Consul 1.19-1.22: v
// is refused if it equals an unsupported version, else accepted from the
// oldest listed minor version up to, not including, the minor after the
// newest.
func consulAccepts(t *testing.T, v string, s envoySupport) bool {
	t.Helper()
	for _, u := range s.unsupported {
		if u == v {
			return false
		}
	}
	m := minorOf(t, v)
	return m >= minorOf(t, s.versions[len(s.versions)-1]) && m <= minorOf(t, s.versions[0])
}

// minorOf returns y of "1.y.z".
func minorOf(t *testing.T, v string) int {
	t.Helper()
	parts := strings.Split(v, ".")
	if len(parts) != 3 || parts[0] != "1" {
		t.Fatalf("version %q is not 1.y.z", v)
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil {
		t.Fatalf("version %q: %v", v, err)
	}
	return n
}

// checkShape fails unless Consul v's version check is the one
// consulAccepts reproduces.
func checkShape(t *testing.T, consulDir, v string) {
	t.Helper()
	for file, wants := range map[string][]string{
		"envoy.go": {`checkEnvoyVersionCompatibility(v, xdscommon.UnsupportedEnvoyVersions)`, `"!= %s"`,
			`minor++`, `">= %s, < %s", xdscommon.GetMinEnvoyMajorVersion(), maxSupported`},
		"exec.go": {"regexp.MustCompile(`(\\d+\\.\\d+\\.\\d+)`)"},
	} {
		data, err := os.ReadFile(filepath.Join(consulDir, "command", "connect", "envoy", file))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range wants {
			if !bytes.Contains(data, []byte(w)) {
				t.Errorf("Consul %s's command/connect/envoy/%s no longer has %s: revisit consulAccepts", v, file, w)
			}
		}
	}
}

var requireExtensions = regexp.MustCompile(`(?m)^\s*github\.com/hashicorp/consul/envoyextensions (v\S+)\s*$`)

// loadEnvoySupport reads Consul v's Envoy version lists.
func loadEnvoySupport(t *testing.T, v string) envoySupport {
	t.Helper()
	dir := consulModuleDir(t, v)
	checkShape(t, dir, v)
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := requireExtensions.FindSubmatch(gomod)
	if m == nil {
		t.Fatalf("Consul %s's go.mod requires no github.com/hashicorp/consul/envoyextensions", v)
	}
	s := envoySupport{extensions: string(m[1])}
	ext := envoyExtensionsDir(t, s.extensions)
	raw, err := os.ReadFile(filepath.Join(ext, "xdscommon", "ENVOY_VERSIONS"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			s.versions = append(s.versions, line)
		}
	}
	if len(s.versions) == 0 {
		t.Fatalf("envoyextensions %s lists no Envoy version", s.extensions)
	}
	s.unsupported = stringSliceVar(t, filepath.Join(ext, "xdscommon", "proxysupport.go"), "UnsupportedEnvoyVersions")
	return s
}

// envoyExtensionsDir downloads hashicorp/consul/envoyextensions at version
// v and returns its directory. The module proxy these tests use serves the
// module but not every version's checksum database entry (v0.9.0's
// lookup answers 404), so the checksum database is skipped for this one
// module: only its version list is read, nothing is built from it.
func envoyExtensionsDir(t *testing.T, v string) string {
	t.Helper()
	const mod = "github.com/hashicorp/consul/envoyextensions"
	cmd := exec.Command(goTool(), "mod", "download", "-json", mod+"@"+v)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GONOSUMDB="+mod)
	out, err := cmd.Output()
	var res struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &res); err != nil || jerr != nil || res.Dir == "" {
		t.Fatalf("fetching %s@%s with `go mod download` (needs the Go module proxy, GOPROXY): %v %s%s", mod, v, err, res.Error, stderrOf(err))
	}
	return res.Dir
}

// stringSliceVar returns the string literals of `var name = []string{...}`
// in the Go file at path.
func stringSliceVar(t *testing.T, path, name string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, sp := range g.Specs {
			vs := sp.(*ast.ValueSpec)
			if vs.Names[0].Name != name || len(vs.Values) != 1 {
				continue
			}
			lit, ok := vs.Values[0].(*ast.CompositeLit)
			if !ok {
				t.Fatalf("%s: %s is not a literal", path, name)
			}
			var out []string
			for _, e := range lit.Elts {
				s, err := strconv.Unquote(e.(*ast.BasicLit).Value)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, s)
			}
			return out
		}
	}
	t.Fatalf("%s: no var %s", path, name)
	return nil
}
