package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

func TestIsEnvoyInvocation(t *testing.T) {
	tests := []struct {
		argv0 string
		args  []string
		want  bool
	}{
		{"/usr/bin/meshlb", []string{"--version"}, true},
		{"/usr/bin/meshlb", []string{"--config-path", "/tmp/f", "--disable-hot-restart"}, true},
		{"/usr/bin/meshlb", []string{"-c", "envoy.yaml"}, true},
		{"/usr/local/bin/envoy", []string{"sidecar"}, true},
		{"/usr/bin/meshlb", []string{"sidecar", "--config", "f"}, false},
		{"/usr/bin/meshlb", []string{"--help"}, false},
		{"/usr/bin/meshlb", nil, false},
	}
	for _, tc := range tests {
		if got := isEnvoyInvocation(tc.argv0, tc.args); got != tc.want {
			t.Errorf("isEnvoyInvocation(%q, %q) = %v, want %v", tc.argv0, tc.args, got, tc.want)
		}
	}
}

// consulVersionRE is how `consul connect envoy` reads the version out of
// `envoy --version` (command/connect/envoy/exec.go): the first x.y.z.
var consulVersionRE = regexp.MustCompile(`(\d+\.\d+\.\d+)`)

func TestEnvoyVersionLine(t *testing.T) {
	for _, env := range []string{"", "1.34.1"} {
		t.Setenv("MESHLB_ENVOY_VERSION", env)
		var out bytes.Buffer
		if err := runEnvoy(context.Background(), []string{"--version"}, &out); err != nil {
			t.Fatal(err)
		}
		want := envoyVersion
		if env != "" {
			want = env
		}
		if m := consulVersionRE.FindString(out.String()); m != want {
			t.Errorf("version line %q: Consul reads %q, want %q", out.String(), m, want)
		}
		if !strings.Contains(out.String(), "envoy  version: ") {
			t.Errorf("version line %q lacks Envoy's prefix", out.String())
		}
	}
}

func TestRunEnvoyFlags(t *testing.T) {
	boot := "../../sidecar/config/testdata/consul-1.21-bootstrap.json"
	tests := []struct {
		name    string
		args    []string
		out     string // in stdout
		wantErr string
	}{
		{"validate", []string{"--config-path", boot, "--mode", "validate", "--disable-hot-restart", "--log-level", "warning"},
			"configuration '" + boot + "' OK", ""},
		{"validate short flags", []string{"-c", boot, "-l", "debug", "--mode=validate", "--concurrency", "2"}, "OK", ""},
		{"unknown flag", []string{"--config-path", boot, "--no-such-flag"}, "", "flag provided but not defined: -no-such-flag"},
		{"config yaml", []string{"--config-path", boot, "--config-yaml", "{}"}, "", "--config-yaml is not supported"},
		{"no config", []string{"--disable-hot-restart"}, "", "--config-path is required"},
		{"bad level", []string{"--config-path", boot, "--log-level", "loud"}, "", `--log-level "loud"`},
		{"missing file", []string{"--config-path", "/no/such/bootstrap.json"}, "", "loading bootstrap"},
		{"extra argument", []string{"--config-path", boot, "--", "x"}, "", `unexpected argument "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := runEnvoy(context.Background(), tc.args, &out)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("runEnvoy(%q): %v", tc.args, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("runEnvoy(%q) = %v, want an error containing %q", tc.args, err, tc.wantErr)
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Errorf("stdout %q, want it to contain %q", out.String(), tc.out)
			}
		})
	}
}
