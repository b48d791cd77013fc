// Package scale measures how fast `meshlb control` pushes one endpoint edit
// to many ADS streams (issue 14). It runs a real control process on a
// generated services file and opens real gRPC ADS streams, state of the
// world and delta, as sidecars would.
//
// By default it runs a small mesh that `make test` can afford and asserts
// that every stream gets the edit; `make scale` sets the sizes of the
// issue through the environment (see [sizeFromEnv]) and reports figures.
// MESHLB_SCALE_BIN runs a prebuilt binary instead of building this tree,
// for before/after comparisons; one without `control --admin` is measured
// without the figures that need it. Tests skip under -short.
package scale

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// meshlbBin is the binary built once for all tests.
var meshlbBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "meshlb-scale-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if bin := os.Getenv("MESHLB_SCALE_BIN"); bin != "" {
		meshlbBin = bin
		return m.Run()
	}
	meshlbBin = filepath.Join(dir, "meshlb")
	build := exec.Command("go", "build", "-o", meshlbBin, "../../cmd/meshlb")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building meshlb:", err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}
