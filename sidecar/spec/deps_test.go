package spec_test

import (
	"os/exec"
	"strings"
	"testing"
)

// dataPlane lists the packages that must build without protobuf or Envoy's
// generated types: only sidecar/config decodes (DESIGN.md, "Packages").
var dataPlane = []string{"spec", "listener", "l4", "l7", "route", "cluster", "balancer", "filterchain", "httpfilter", "rbac", "stream", "h2"}

// TestDataPlaneLinksNoProtobuf runs `go list -deps` on each data-plane
// package and fails on any envoyproxy or protobuf dependency.
func TestDataPlaneLinksNoProtobuf(t *testing.T) {
	for _, pkg := range dataPlane {
		t.Run(pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "../"+pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps ../%s: %v\n%s", pkg, err, out)
			}
			for _, dep := range strings.Fields(string(out)) {
				if strings.Contains(dep, "envoyproxy") || strings.Contains(dep, "protobuf") {
					t.Errorf("sidecar/%s depends on %s; decode in sidecar/config and pass spec types", pkg, dep)
				}
			}
		})
	}
}
