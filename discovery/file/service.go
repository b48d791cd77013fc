package file

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/meshlb/meshlb/discovery"
)

var (
	serviceKeys  = append([]string{"name", "protocol", "endpoints", "sidecar"}, resilienceKeys...)
	endpointKeys = []string{"address", "port", "weight", "health"}
)

// service decodes services[i]. The sidecar is decoded last because its
// default id is the service name, wherever the name appears.
func (d *decoder) service(n *yaml.Node, path string) (discovery.Service, error) {
	var s discovery.Service
	fs, err := d.fields(n, path)
	if err != nil {
		return s, err
	}
	var sidecar *field
	for _, f := range fs {
		switch f.key {
		case "name":
			s.Name, err = d.serviceName(f)
		case "protocol":
			var p string
			p, err = d.oneOf(f, string(discovery.ProtocolTCP), string(discovery.ProtocolHTTP))
			s.Protocol = discovery.Protocol(p)
		case "endpoints":
			s.Endpoints, err = d.endpoints(f)
		case "sidecar":
			sidecar = &f
		default:
			if !slices.Contains(resilienceKeys, f.key) {
				err = d.unknown(f, serviceKeys)
				break
			}
			if s.Resilience == nil {
				s.Resilience = &discovery.Resilience{}
			}
			err = d.resilience(f, s.Resilience)
		}
		if err != nil {
			return s, err
		}
	}
	if s.Name == "" {
		return s, d.missing(n, path, "name")
	}
	if sidecar != nil {
		s.Sidecar, err = d.sidecar(*sidecar, s.Name)
	}
	return s, err
}

// serviceName decodes a service name and claims it.
func (d *decoder) serviceName(f field) (string, error) {
	name, err := d.str(f)
	if err != nil {
		return "", err
	}
	n := deref(f.value)
	if name == "" || strings.ContainsAny(name, " /\t\n") {
		return "", d.fail(n, f.path, "%q must be non-empty with no spaces or slashes", clip(name))
	}
	if first, dup := d.names[name]; dup {
		return "", d.fail(n, f.path, "duplicate service name %q (first at line %d)", clip(name), first.line)
	}
	d.names[name] = claim{service: name, line: n.Line, path: f.path}
	return name, nil
}

// endpoints decodes a service's endpoint list.
func (d *decoder) endpoints(f field) ([]discovery.Endpoint, error) {
	items, err := d.sequence(f.value, f.path)
	if err != nil {
		return nil, err
	}
	out := make([]discovery.Endpoint, 0, len(items))
	for i, item := range items {
		e, err := d.endpoint(item, index(f.path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// endpoint decodes one endpoint; address and port are required.
func (d *decoder) endpoint(n *yaml.Node, path string) (discovery.Endpoint, error) {
	var e discovery.Endpoint
	fs, err := d.fields(n, path)
	if err != nil {
		return e, err
	}
	for _, f := range fs {
		switch f.key {
		case "address":
			e.Address, err = d.ip(f)
		case "port":
			e.Port, err = d.port(f)
		case "weight":
			e.Weight, err = d.intIn(f, 1, 128)
		case "health":
			var h string
			h, err = d.oneOf(f, string(discovery.HealthHealthy), string(discovery.HealthUnhealthy), string(discovery.HealthDraining))
			e.Health = discovery.Health(h)
		default:
			err = d.unknown(f, endpointKeys)
		}
		if err != nil {
			return e, err
		}
	}
	switch {
	case e.Address == "":
		return e, d.missing(n, path, "address")
	case e.Port == 0:
		return e, d.missing(n, path, "port")
	}
	return e, nil
}
