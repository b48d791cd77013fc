// Package docs holds tests that keep the documentation honest.
package docs

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestSupportedFieldsHaveRuntimeTests enforces docs/xds-support.md's rule that an
// accepted (✓) field has a test showing its effect at run time (issue 7): every ✓
// row must be in runtimeTests, naming test functions that exist, or in
// missingRuntimeTests, which is logged so the gap stays visible. A decode-only test
// does not count.
func TestSupportedFieldsHaveRuntimeTests(t *testing.T) {
	rows := supportedRows(t, "xds-support.md")
	funcs := testFuncs(t, "..")
	seen := map[string]bool{}
	var missing []string
	for _, key := range rows {
		seen[key] = true
		names, mapped := runtimeTests[key]
		_, gap := missingRuntimeTests[key]
		switch {
		case mapped && gap:
			t.Errorf("%q is in both runtimeTests and missingRuntimeTests", key)
		case mapped:
			for _, n := range names {
				if !funcs[n] {
					t.Errorf("%q: test function %s does not exist", key, n)
				}
			}
		case gap:
			missing = append(missing, key)
		default:
			t.Errorf("✓ field %q has no runtime test: add one to runtimeTests (or, for now, to missingRuntimeTests)", key)
		}
	}
	for _, m := range []map[string][]string{runtimeTests, missingRuntimeTests} {
		for key := range m {
			if !seen[key] {
				t.Errorf("%q is not a ✓ row of xds-support.md", key)
			}
		}
	}
	sort.Strings(missing)
	t.Logf("%d ✓ fields, %d with runtime tests, %d missing:", len(rows), len(rows)-len(missing), len(missing))
	for _, m := range missing {
		t.Logf("  missing runtime test: %s", m)
	}
}

var (
	tableRow  = regexp.MustCompile(`^\|(.*)\|\s*✓\s*\|`)
	ticked    = regexp.MustCompile("`([^`]+)`")
	testFunc  = regexp.MustCompile(`(?m)^func (Test\w+)\(`)
	numberCol = regexp.MustCompile(`^\d+$`)
)

// supportedRows returns the "Section / field" key of every ✓ row in the file.
func supportedRows(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	defer f.Close()
	var keys []string
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			section = sectionName(strings.TrimSpace(strings.TrimLeft(line, "#")))
			continue
		}
		m := tableRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		cells := strings.Split(m[1], "|")
		field := strings.TrimSpace(cells[0])
		if numberCol.MatchString(field) && len(cells) > 1 { // FilterChainMatch's order column
			field = strings.TrimSpace(cells[1])
		}
		keys = append(keys, section+" / "+strings.ReplaceAll(field, "`", ""))
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	if len(keys) == 0 {
		t.Fatalf("%s: no ✓ rows found", path)
	}
	return keys
}

// sectionName shortens a heading: "Cluster (`envoy...Cluster`)" is "Cluster",
// "Network filter: `envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`" is
// "network.TcpProxy".
func sectionName(h string) string {
	if i := strings.Index(h, " ("); i > 0 {
		return h[:i]
	}
	m := ticked.FindAllStringSubmatch(h, -1)
	if m == nil {
		return h
	}
	name := m[len(m)-1][1]
	prefix := ""
	for _, kind := range []string{"network", "http", "listener"} {
		if strings.Contains(name, ".filters."+kind+".") {
			prefix = kind + "."
		}
	}
	return prefix + name[strings.LastIndex(name, ".")+1:]
}

// testFuncs returns the names of the Test functions in the repository's test files.
func testFuncs(t *testing.T, root string) map[string]bool {
	t.Helper()
	funcs := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range testFunc.FindAllSubmatch(b, -1) {
			funcs[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listing test functions: %v", err)
	}
	return funcs
}
