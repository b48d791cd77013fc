package file

import (
	"net/netip"

	"gopkg.in/yaml.v3"

	"github.com/meshlb/meshlb/discovery"
)

var (
	sidecarKeys  = []string{"id", "inbound_port", "inbound_address", "local_port", "local_address", "upstreams"}
	upstreamKeys = []string{"service", "bind_port", "bind_address"}
)

// defaultAddress is the address sidecars bind and dial when none is given,
// as in [discovery.New].
const defaultAddress = "127.0.0.1"

// listen is one address:port a sidecar listens on, to be checked for
// collisions with the sidecar's other listeners.
type listen struct {
	addr string // empty means defaultAddress
	port int
	line int
	path string
}

// sidecarDecl is a decoded sidecar with the positions its checks need.
type sidecarDecl struct {
	sc      discovery.Sidecar
	idLine  int     // of id, or of the sidecar when id is absent
	inbound *listen // nil without inbound_port
	listens []listen
}

// sidecar decodes the sidecar of service, claims its node id and checks
// that its listeners do not collide.
func (d *decoder) sidecar(sf field, service string) (*discovery.Sidecar, error) {
	decl, err := d.sidecarFields(sf)
	if err != nil {
		return nil, err
	}
	sc := &decl.sc
	if decl.inbound != nil {
		if sc.LocalPort == 0 {
			return nil, d.fail(deref(sf.value), join(sf.path, "local_port"), "required with inbound_port")
		}
		decl.inbound.addr = sc.InboundAddr
		decl.listens = append([]listen{*decl.inbound}, decl.listens...)
	}
	if err := d.claimID(sc, service, decl.idLine, join(sf.path, "id")); err != nil {
		return nil, err
	}
	if err := d.checkListens(decl.listens); err != nil {
		return nil, err
	}
	return sc, nil
}

// sidecarFields decodes the fields of a sidecar mapping.
func (d *decoder) sidecarFields(sf field) (*sidecarDecl, error) {
	fs, err := d.fields(sf.value, sf.path)
	if err != nil {
		return nil, err
	}
	decl := &sidecarDecl{idLine: deref(sf.value).Line}
	sc := &decl.sc
	for _, f := range fs {
		line := deref(f.value).Line
		switch f.key {
		case "id":
			sc.ID, err = d.nonEmpty(f)
			decl.idLine = line
		case "inbound_port":
			sc.InboundPort, err = d.port(f)
			decl.inbound = &listen{port: sc.InboundPort, line: line, path: f.path}
		case "inbound_address":
			sc.InboundAddr, err = d.ip(f)
		case "local_port":
			sc.LocalPort, err = d.port(f)
		case "local_address":
			sc.LocalAddress, err = d.ip(f)
		case "upstreams":
			sc.Upstreams, decl.listens, err = d.upstreams(f)
		default:
			err = d.unknown(f, sidecarKeys)
		}
		if err != nil {
			return nil, err
		}
	}
	return decl, nil
}

// nonEmpty returns the string in f, which must not be empty.
func (d *decoder) nonEmpty(f field) (string, error) {
	s, err := d.str(f)
	if err == nil && s == "" {
		err = d.fail(deref(f.value), f.path, "must not be empty")
	}
	return s, err
}

// claimID checks that no other sidecar uses sc's node id.
func (d *decoder) claimID(sc *discovery.Sidecar, service string, line int, path string) error {
	id := sc.ID
	if id == "" {
		id = service
	}
	if other, dup := d.ids[id]; dup {
		return d.failAt(line, path, "%q is also used by service %q", clip(id), clip(other.service))
	}
	d.ids[id] = claim{service: service, line: line, path: path}
	return nil
}

// checkListens reports the first address:port used twice.
func (d *decoder) checkListens(ls []listen) error {
	seen := make(map[netip.AddrPort]string, len(ls))
	for _, l := range ls {
		if l.addr == "" {
			l.addr = defaultAddress
		}
		ap := netip.AddrPortFrom(netip.MustParseAddr(l.addr), uint16(l.port))
		if other, dup := seen[ap]; dup {
			return d.failAt(l.line, l.path, "%s is also used by %s", ap, other)
		}
		seen[ap] = l.path
	}
	return nil
}

// upstreams decodes a sidecar's upstream list, returning the upstreams and
// their listeners.
func (d *decoder) upstreams(f field) ([]discovery.Upstream, []listen, error) {
	items, err := d.sequence(f.value, f.path)
	if err != nil {
		return nil, nil, err
	}
	ups := make([]discovery.Upstream, 0, len(items))
	ls := make([]listen, 0, len(items))
	for i, item := range items {
		u, l, err := d.upstream(item, index(f.path, i))
		if err != nil {
			return nil, nil, err
		}
		ups, ls = append(ups, u), append(ls, l)
	}
	return ups, ls, nil
}

// upstream decodes one upstream; service and bind_port are required.
func (d *decoder) upstream(n *yaml.Node, path string) (discovery.Upstream, listen, error) {
	var u discovery.Upstream
	var l listen
	fs, err := d.fields(n, path)
	if err != nil {
		return u, l, err
	}
	for _, f := range fs {
		switch f.key {
		case "service":
			u.Service, err = d.nonEmpty(f)
			d.refs = append(d.refs, ref{service: u.Service, line: deref(f.value).Line, path: f.path})
		case "bind_port":
			u.BindPort, err = d.port(f)
			l = listen{port: u.BindPort, line: deref(f.value).Line, path: f.path}
		case "bind_address":
			u.BindAddress, err = d.ip(f)
		default:
			err = d.unknown(f, upstreamKeys)
		}
		if err != nil {
			return u, l, err
		}
	}
	switch {
	case u.Service == "":
		return u, l, d.missing(n, path, "service")
	case u.BindPort == 0:
		return u, l, d.missing(n, path, "bind_port")
	}
	l.addr = u.BindAddress
	return u, l, nil
}
