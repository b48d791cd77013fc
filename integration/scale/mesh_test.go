package scale

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"testing"
)

// popular is the service every sidecar calls; the test edits the port of
// its first endpoint.
const popular = "svc-00000"

// Ports of popular's first endpoint before and after the edit.
const (
	portBefore = 8080
	portAfter  = 8081
)

// size is the shape of the generated mesh.
type size struct {
	Services  int // services, each with Endpoints endpoints
	Endpoints int
	Streams   int // sidecars, one ADS stream each; every other one is delta
	Upstreams int // upstreams per sidecar, popular included
}

// sizeFromEnv returns the small default mesh, overridden by
// MESHLB_SCALE_SERVICES, _ENDPOINTS, _STREAMS and _UPSTREAMS.
func sizeFromEnv(t *testing.T) size {
	t.Helper()
	s := size{Services: 200, Endpoints: 10, Streams: 50, Upstreams: 4}
	for name, p := range map[string]*int{"SERVICES": &s.Services, "ENDPOINTS": &s.Endpoints,
		"STREAMS": &s.Streams, "UPSTREAMS": &s.Upstreams} {
		v := os.Getenv("MESHLB_SCALE_" + name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("MESHLB_SCALE_%s=%q: want a positive integer", name, v)
		}
		*p = n
	}
	if s.Streams >= s.Services || s.Upstreams > s.Services/4 {
		t.Fatalf("%+v: want Streams < Services and Upstreams <= Services/4", s)
	}
	return s
}

// sidecarSpec is what one generated sidecar should receive.
type sidecarSpec struct {
	id       string
	clusters []string // EDS names: its upstream services
	routes   []string // RDS names: upstream:S for its HTTP upstreams
}

// serviceName is the name of service i; even services speak HTTP.
func serviceName(i int) string { return fmt.Sprintf("svc-%05d", i) }

// sidecars returns the specs of the generated sidecars: sidecar i runs
// beside service i+1 and calls popular and Upstreams-1 other services.
func (s size) sidecars() []sidecarSpec {
	out := make([]sidecarSpec, s.Streams)
	for i := range out {
		sp := sidecarSpec{id: fmt.Sprintf("node-%05d", i)}
		for _, u := range s.upstreams(i) {
			sp.clusters = append(sp.clusters, serviceName(u))
			if u%2 == 0 {
				sp.routes = append(sp.routes, "upstream:"+serviceName(u))
			}
		}
		out[i] = sp
	}
	return out
}

// upstreams returns the service indexes sidecar i calls: 0, then distinct
// others spread over the mesh.
func (s size) upstreams(i int) []int {
	out := []int{0}
	step := s.Services / 4
	for k := 1; k < s.Upstreams; k++ {
		out = append(out, 1+(i*3+k*step)%(s.Services-1))
	}
	return out
}

// yaml renders the mesh as one services file; popular's first endpoint
// has port port.
func (s size) yaml(port int) []byte {
	var b bytes.Buffer
	s.writeServices(&b, 0, s.Services, port)
	return b.Bytes()
}

// perFile is how many services each file of the split layout holds.
const perFile = 100

// splitFiles renders the mesh as a services directory, perFile services
// to a file, by file name; popular is in the first file.
func (s size) splitFiles(port int) map[string][]byte {
	out := map[string][]byte{}
	for from := 0; from < s.Services; from += perFile {
		var b bytes.Buffer
		s.writeServices(&b, from, min(from+perFile, s.Services), port)
		out[splitName(from)] = b.Bytes()
	}
	return out
}

// splitName is the name of the split layout's file that starts at service
// from.
func splitName(from int) string { return fmt.Sprintf("services-%05d.yaml", from) }

// writeServices writes a services file of services [from, to).
func (s size) writeServices(b *bytes.Buffer, from, to, port int) {
	b.WriteString("services:\n")
	for i := from; i < to; i++ {
		proto := "tcp"
		if i%2 == 0 {
			proto = "http"
		}
		fmt.Fprintf(b, "  - name: %s\n    protocol: %s\n    endpoints:\n", serviceName(i), proto)
		for j := range s.Endpoints {
			p := portBefore
			if i == 0 && j == 0 {
				p = port
			}
			fmt.Fprintf(b, "      - {address: 10.%d.%d.%d, port: %d}\n", i/256, i%256, j+1, p)
		}
		if i >= 1 && i <= s.Streams {
			s.writeSidecar(b, i-1)
		}
	}
}

func (s size) writeSidecar(b *bytes.Buffer, i int) {
	fmt.Fprintf(b, "    sidecar:\n      id: node-%05d\n      inbound_port: 15000\n      local_port: 8080\n      upstreams:\n", i)
	for k, u := range s.upstreams(i) {
		fmt.Fprintf(b, "        - {service: %s, bind_port: %d}\n", serviceName(u), 9000+k)
	}
}
