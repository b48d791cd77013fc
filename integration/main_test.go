// Package integration runs meshlb end to end: real `meshlb control` and
// `meshlb sidecar` processes, real backends on loopback, real sockets.
// Tests skip under -short.
package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// meshlbBin is the binary built once for all tests.
var meshlbBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "meshlb-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	meshlbBin = filepath.Join(dir, "meshlb")
	build := exec.Command("go", "build", "-o", meshlbBin, "../cmd/meshlb")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building meshlb:", err)
		return 1
	}
	return m.Run()
}
