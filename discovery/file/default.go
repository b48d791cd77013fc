package file

import _ "embed"

// Default is the demo mesh, an mTLS mesh all on 127.0.0.1: service web
// (http, app on 18201, its sidecar's public listener on 18301), service
// echo (tcp, app 18211, sidecar 18311) and service frontend (http, app
// 18221, sidecar 18321) whose sidecar exposes web on 18401 and echo on
// 18402. Serve it with [NewStatic]("default.yaml",
// Default). Default must not be modified.
//
//go:embed default.yaml
var Default []byte
