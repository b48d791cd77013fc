package file

import _ "embed"

// Default is the demo mesh, all on 127.0.0.1: service web (http, ports
// 18201-18203), service echo (tcp, port 18211) and service frontend (http,
// port 18221) whose sidecar "frontend" listens on 18321 and exposes web on
// 18401 and echo on 18402. Serve it with [NewStatic]("default.yaml",
// Default). Default must not be modified.
//
//go:embed default.yaml
var Default []byte
