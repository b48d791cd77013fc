//go:build tools

// Package tools pins the Consul agent that the integration tests run. It is a
// separate module so that Consul's dependency graph never enters meshlb's
// go.mod; install.sh builds the binary from here.
package tools

import _ "github.com/hashicorp/consul"
