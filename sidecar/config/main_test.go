package config

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fromYAML parses an Envoy resource written in YAML into m and returns m.
func fromYAML[M proto.Message](t *testing.T, src string, m M) M {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(src))
	if err != nil {
		t.Fatalf("YAMLToJSON: %v", err)
	}
	if err := protojson.Unmarshal(js, m); err != nil {
		t.Fatalf("protojson.Unmarshal: %v\n%s", err, src)
	}
	return m
}

// wantError fails t unless err is non-nil and contains every part of want.
func wantError(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("got error %q, want it to contain %q", err, w)
		}
	}
}
