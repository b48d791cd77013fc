package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServicesFileSizeLimit starts the control server on a services file
// over --services-max-bytes: it must refuse it with an error naming the
// file and its size, instead of parsing it into gigabytes of memory.
func TestServicesFileSizeLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	path := filepath.Join(t.TempDir(), "services.yaml")
	data := "services:\n  - name: web\n" + strings.Repeat("# padding\n", 200)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runMeshlb("control", "--services", path, "--services-max-bytes", "1000",
		"--xds-addr", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	if err == nil {
		t.Fatalf("control accepted a file over the limit: %s", out)
	}
	want := fmt.Sprintf("%s: services file is %d bytes, over the limit of 1000 bytes", path, len(data))
	if !strings.Contains(out, want) {
		t.Errorf("control output %q, want it to contain %q", out, want)
	}
}
