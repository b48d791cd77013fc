package main

import (
	"flag"
	"io"
	"testing"
)

// TestEnforceIntentionsFlag shows intentions are enforced unless
// --enforce-intentions=false says otherwise.
func TestEnforceIntentionsFlag(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantOff bool
		wantErr bool
	}{
		{nil, false, false},
		{[]string{"--enforce-intentions"}, false, false},
		{[]string{"--enforce-intentions=true"}, false, false},
		{[]string{"--enforce-intentions=false"}, true, false},
		{[]string{"--enforce-intentions=maybe"}, false, true},
	} {
		var cc controlConfig
		fs := flag.NewFlagSet("control", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		cc.register(fs)
		err := fs.Parse(tc.args)
		if (err != nil) != tc.wantErr {
			t.Errorf("%v: error %v, want error %v", tc.args, err, tc.wantErr)
		}
		if err == nil && cc.intentionsOff != tc.wantOff {
			t.Errorf("%v: intentions off %v, want %v", tc.args, cc.intentionsOff, tc.wantOff)
		}
	}
}
