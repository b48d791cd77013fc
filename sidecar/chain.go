package sidecar

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/filterchain"
	"github.com/meshlb/meshlb/sidecar/h2"
	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
	tlstransport "github.com/meshlb/meshlb/sidecar/transport"
)

// buildChain builds the filter chain fc of listener name: its network
// filters from the filterchain registry and its terminal server. A chain
// with the same key in old, the listener's previous version, lends its
// server (and its filters' state) to the new one.
func (s *Sidecar) buildChain(name string, fc *spec.FilterChain, key string, set *spec.Set,
	clusters map[string]*cluster.Cluster, old *Listener, fs *httpfilter.State) (*Chain, error) {
	prev := old.chain(key)
	ch := &Chain{Spec: fc, key: key}
	for i := range fc.Filters {
		f, err := s.buildFilter(name, &fc.Filters[i], prev.filter(i, fc.Filters[i].TypeURL))
		if err != nil {
			return nil, fmt.Errorf("filters[%d]: %w", i, err)
		}
		ch.filters = append(ch.filters, f)
	}
	switch {
	case fc.HTTP != nil:
		cfg, err := s.httpConfig(name, httpScope(name, key), fc.HTTP, set, clusters, fs)
		if err != nil {
			return nil, err
		}
		ch.httpCfg, ch.HTTP = cfg, s.httpServer(prev, cfg)
		if fc.HTTP.Codec != spec.CodecHTTP1 {
			ch.h2Cfg = &h2.Config{Config: cfg.Config, HTTP2: fc.HTTP.HTTP2}
			ch.H2 = s.h2Server(prev, ch.h2Cfg)
		}
	case fc.TCP != nil:
		cfg, err := s.tcpConfig(name, fc.TCP, clusters)
		if err != nil {
			return nil, err
		}
		ch.tcpCfg, ch.TCP = cfg, s.tcpServer(prev, cfg)
	default:
		return nil, fmt.Errorf("no terminal network filter")
	}
	if fc.TLS != nil {
		t, err := tlstransport.NewServer(fc.TLS)
		if err != nil {
			return nil, fmt.Errorf("transport_socket: %w", err)
		}
		ch.transport = t
		ch.localURIs = localURIs(fc.TLS.Certificates)
	}
	return ch, nil
}

// localURIs returns the URI SANs of the first certificate's leaf (the
// local SPIFFE ID): the one a chain presents, unless the client's SNI or
// algorithms pick another of the same identity.
func localURIs(certs []spec.Certificate) []string {
	if len(certs) == 0 {
		return nil
	}
	b, _ := pem.Decode(certs[0].Chain)
	if b == nil {
		return nil
	}
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil // the transport socket has refused it already
	}
	return stream.URIs(leaf)
}

func (s *Sidecar) buildFilter(listener string, nf *spec.NetworkFilter, prev filterchain.Filter) (filterchain.Filter, error) {
	b := filterchain.Get(nf.TypeURL)
	if b == nil {
		return nil, fmt.Errorf("network filter %q is not supported", nf.TypeURL)
	}
	return b.Build(nf.Config, filterchain.Env{Listener: listener, Counter: s.stats.counter, Logger: s.logger, Prev: prev})
}

// runtime returns the chain as the connection handler runs it.
func (ch *Chain) runtime() *filterchain.Chain {
	out := &filterchain.Chain{Name: ch.Spec.Name, Filters: ch.filters, Transport: ch.transport, LocalURIs: ch.localURIs}
	switch {
	case ch.HTTP == nil:
		out.Terminal = ch.TCP
	case ch.H2 == nil:
		out.Terminal = ch.HTTP
	case ch.Spec.HTTP.Codec == spec.CodecHTTP2:
		out.Terminal = ch.H2
	default:
		cfg := ch.httpCfg
		out.Terminal = &h2.Auto{HTTP1: ch.HTTP, HTTP2: ch.H2, Wait: func() time.Duration { return cfg.StreamIdle }}
	}
	return out
}

// h2Server keeps the HTTP/2 server of a chain that keeps its key, as
// httpServer does.
func (s *Sidecar) h2Server(old *Chain, cfg *h2.Config) *h2.Server {
	if old != nil && old.H2 != nil {
		return old.H2
	}
	return h2.NewServer(cfg, s.logger)
}

// chainKey identifies a filter chain across configurations of its
// listener: the default chain, else by name, else by its match (unique
// among the listener's chains). A name that several chains share (Envoy
// allows it) is qualified by the match.
func chainKey(fc *spec.FilterChain, isDefault bool, dupNames map[string]bool) string {
	switch {
	case isDefault:
		return "default"
	case fc.Name != "" && !dupNames[fc.Name]:
		return "name:" + fc.Name
	}
	return fmt.Sprintf("name:%s match:%v", fc.Name, fc.Match)
}

// duplicateNames returns the names more than one of chains has.
func duplicateNames(chains []spec.FilterChain) map[string]bool {
	seen, dup := map[string]bool{}, map[string]bool{}
	for i := range chains {
		n := chains[i].Name
		dup[n] = seen[n]
		seen[n] = true
	}
	return dup
}

// httpScope is the HTTP filter state scope of the chain with key in
// listener name, so that each HTTP chain has buckets of its own.
func httpScope(name, key string) string {
	return name + " " + key
}

// chainPath is the field path of fc in l for error messages, with a
// trailing ": ", or "" when l has only this one chain.
func chainPath(l *spec.Listener, fc *spec.FilterChain) string {
	switch {
	case fc == l.Default:
		return "default_filter_chain: "
	case len(l.FilterChains) == 1 && l.Default == nil:
		return ""
	}
	for i := range l.FilterChains {
		if &l.FilterChains[i] == fc {
			return fmt.Sprintf("filter_chains[%d]: ", i)
		}
	}
	return ""
}

// chain returns l's chain with key, or nil; l may be nil.
func (l *Listener) chain(key string) *Chain {
	if l == nil {
		return nil
	}
	for _, ch := range l.Chains {
		if ch.key == key {
			return ch
		}
	}
	return nil
}

// filter returns the filter at position i of ch if it has type typeURL,
// or nil; ch may be nil.
func (ch *Chain) filter(i int, typeURL string) filterchain.Filter {
	if ch == nil || i >= len(ch.filters) || ch.Spec.Filters[i].TypeURL != typeURL {
		return nil
	}
	return ch.filters[i]
}
