package cluster

import (
	"testing"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestUsableCombinesHealth: EDS health and the active check combine as in
// Envoy: either failing takes the endpoint out.
func TestUsableCombinesHealth(t *testing.T) {
	failing, passing := &ActiveHealth{}, &ActiveHealth{}
	failing.SetFailed(true)
	tests := []struct {
		eds    spec.HealthStatus
		active *ActiveHealth
		want   bool
	}{
		{spec.Healthy, nil, true},
		{spec.Healthy, passing, true},
		{spec.Healthy, failing, false},
		{spec.Degraded, passing, true},
		{spec.Degraded, failing, false},
		{spec.Unhealthy, passing, false},
		{spec.Draining, passing, false},
		{spec.Unhealthy, nil, false},
	}
	for _, tt := range tests {
		e := &Endpoint{State: &State{}, Health: tt.eds, Active: tt.active}
		if got := e.Usable(); got != tt.want {
			t.Errorf("EDS %v, active %v: Usable = %v, want %v", tt.eds, tt.active != nil && tt.active.Failed(), got, tt.want)
		}
	}
}

// TestNewActiveHealthFails: an endpoint's active health starts failing
// and is shared by every snapshot through the runtime.
func TestNewActiveHealthFails(t *testing.T) {
	var rt Runtime
	s := &State{}
	h := rt.ActiveHealth(s)
	if !h.Failed() {
		t.Errorf("a new endpoint passes before its first check")
	}
	if rt.ActiveHealth(s) != h {
		t.Errorf("a second lookup made a new verdict")
	}
	if !h.SetFailed(false) || h.SetFailed(false) {
		t.Errorf("SetFailed does not report changes")
	}
	rt.RetainHealth(&Cluster{})
	if rt.ActiveHealth(s) == h {
		t.Errorf("RetainHealth of a cluster without the endpoint kept its verdict")
	}
}
