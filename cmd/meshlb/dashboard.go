package main

import (
	"github.com/meshlb/meshlb/sidecar/admin"
	"github.com/meshlb/meshlb/xds/client"
)

// xdsStatus adapts the xDS client's per-type status for the admin
// dashboard (sidecar/admin does not import xds/client).
func xdsStatus(c *client.Client) func() []admin.XDSType {
	return func() []admin.XDSType {
		st := c.XDSStatus()
		out := make([]admin.XDSType, len(st))
		for i, s := range st {
			out[i] = admin.XDSType(s)
		}
		return out
	}
}
