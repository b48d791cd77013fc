package discovery

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// Mesh is the catalog's security model: the trust domain whose CA signs
// every sidecar's certificate and the intentions that say who may call
// whom. A catalog without a trust domain is a plaintext mesh. Mesh is
// part of the catalog's content hash; the certificates and keys are not
// (see [Secrets]).
type Mesh struct {
	// TrustDomain is the SPIFFE trust domain, for Consul the CA's
	// "<cluster id>.consul". Empty: no mTLS and no intentions enforced.
	TrustDomain string `json:"trust_domain,omitempty"`
	// Namespace and Datacenter complete SPIFFE IDs of services that name
	// neither; defaults "default" and "dc1".
	Namespace  string `json:"namespace,omitempty"`
	Datacenter string `json:"datacenter,omitempty"`
	// DefaultAllow is the decision for a caller no intention matches:
	// Consul's connect default_intention_policy, else its ACL
	// default_policy.
	DefaultAllow bool `json:"default_allow"`
	// Intentions, in any order; [Mesh.For] orders them by precedence.
	Intentions []Intention `json:"intentions,omitempty"`
	// CA, for sources that issue certificates themselves (services.yaml),
	// says where the CA is; nil for Consul, whose CA issues them.
	CA *CAFiles `json:"ca,omitempty"`
	// NoPanicMode turns Envoy's panic mode off on every upstream cluster
	// (common_lb_config.healthy_panic_threshold 0%), as Consul's own xDS
	// server does; false (services.yaml) leaves Envoy's default, 50%.
	NoPanicMode bool `json:"no_panic_mode,omitempty"`
}

// CAFiles locates a CA: Cert and Key (PEM files), or StateDir to keep a
// generated one in; all empty means a CA generated in memory.
type CAFiles struct {
	Cert     string `json:"cert,omitempty"`
	Key      string `json:"key,omitempty"`
	StateDir string `json:"state_dir,omitempty"`
}

// Action is an intention's decision.
type Action string

// Intention actions.
const (
	ActionAllow Action = "allow"
	ActionDeny  Action = "deny"
)

// Intention allows or denies the service Source calling Destination. "*"
// as either name matches every service. An intention with Permissions is
// an L7 intention: its Action is unused and the first permission whose
// match holds decides (no permission matching means deny), as Consul.
type Intention struct {
	Source      string       `json:"source"`
	Destination string       `json:"destination"`
	Action      Action       `json:"action,omitempty"`
	Permissions []Permission `json:"permissions,omitempty"`
	// Precedence orders intentions, highest first; zero means computed
	// from the names as Consul does (exact beats wildcard, destination
	// first).
	Precedence int `json:"precedence,omitempty"`
}

// Permission is one L7 rule of an intention: requests matching every set
// field get Action.
type Permission struct {
	Action     Action        `json:"action"`
	PathExact  string        `json:"path_exact,omitempty"`
	PathPrefix string        `json:"path_prefix,omitempty"`
	PathRegex  string        `json:"path_regex,omitempty"`
	Methods    []string      `json:"methods,omitempty"`
	Headers    []HeaderMatch `json:"headers,omitempty"`
}

// Enabled reports whether the mesh uses mTLS.
func (m *Mesh) Enabled() bool { return m != nil && m.TrustDomain != "" }

// SPIFFEID returns the SPIFFE ID of service name in datacenter dc (""
// for the mesh's default): spiffe://<trust-domain>/ns/<ns>/dc/<dc>/svc/<name>.
func (m *Mesh) SPIFFEID(name, dc string) string {
	if dc == "" {
		dc = m.Datacenter
	}
	return "spiffe://" + m.TrustDomain + "/ns/" + m.Namespace + "/dc/" + dc + "/svc/" + name
}

// SNI returns the server name sidecars send to reach service name in dc,
// as Consul: <name>.<ns>.<dc>.internal.<trust-domain>.
func (m *Mesh) SNI(name, dc string) string {
	if dc == "" {
		dc = m.Datacenter
	}
	return name + "." + m.Namespace + "." + dc + ".internal." + m.TrustDomain
}

// For returns the intentions whose destination is dest or "*", highest
// precedence first (ties: exact source first, then by source name).
func (m *Mesh) For(dest string) []Intention {
	var out []Intention
	for _, in := range m.Intentions {
		if in.Destination == dest || in.Destination == "*" {
			out = append(out, in)
		}
	}
	slices.SortStableFunc(out, func(a, b Intention) int {
		if d := b.precedence() - a.precedence(); d != 0 {
			return d
		}
		return strings.Compare(a.Source, b.Source)
	})
	return out
}

// precedence is Precedence, or Consul's for the names: exact destination
// and source 9, exact destination and any source 8, any destination and
// exact source 6, both wildcards 5.
func (in Intention) precedence() int {
	if in.Precedence != 0 {
		return in.Precedence
	}
	switch {
	case in.Destination != "*" && in.Source != "*":
		return 9
	case in.Destination != "*":
		return 8
	case in.Source != "*":
		return 6
	}
	return 5
}

func fillMesh(m *Mesh) {
	if m.Namespace == "" {
		m.Namespace = "default"
	}
	if m.Datacenter == "" {
		m.Datacenter = "dc1"
	}
	if m.CA != nil {
		ca := *m.CA
		m.CA = &ca
	}
	m.Intentions = cloneOrNil(m.Intentions)
	for i := range m.Intentions {
		in := &m.Intentions[i]
		in.Permissions = cloneOrNil(in.Permissions)
		for j := range in.Permissions {
			p := &in.Permissions[j]
			p.Methods, p.Headers = cloneOrNil(p.Methods), cloneOrNil(p.Headers)
		}
	}
}

func validateMesh(m *Mesh) error {
	for i, in := range m.Intentions {
		if in.Source == "" || in.Destination == "" {
			return fmt.Errorf("intentions[%d]: source and destination are required", i)
		}
		if len(in.Permissions) == 0 && in.Action != ActionAllow && in.Action != ActionDeny {
			return fmt.Errorf("intentions[%d].action: must be allow or deny", i)
		}
		for j, p := range in.Permissions {
			if p.Action != ActionAllow && p.Action != ActionDeny {
				return fmt.Errorf("intentions[%d].permissions[%d].action: must be allow or deny", i, j)
			}
		}
	}
	return nil
}

func hashJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// Leaf is a service's certificate chain and private key, PEM encoded.
// It logs as "[redacted]".
type Leaf struct {
	CertPEM []byte
	KeyPEM  []byte
}

// LogValue keeps the key out of logs.
func (Leaf) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// String keeps the key out of formatted output.
func (Leaf) String() string { return "[redacted]" }

// Secrets are the mesh's certificate material: the CA roots every sidecar
// trusts and a leaf certificate per service identity. They are kept out
// of the catalog's content hash (see [Catalog.WithSecrets]); Version
// hashes them on their own. Secrets are immutable once built.
type Secrets struct {
	Roots   []byte          // PEM, every trusted root
	Leaves  map[string]Leaf // by service name
	version string
	rootVer string
	leafVer map[string]string
}

// NewSecrets returns secrets over roots and leaves, which are not copied
// and must not be modified afterwards.
func NewSecrets(roots []byte, leaves map[string]Leaf) *Secrets {
	s := &Secrets{Roots: roots, Leaves: leaves, leafVer: make(map[string]string, len(leaves))}
	all := sha256.New()
	sum := sha256.Sum256(roots)
	all.Write(sum[:])
	s.rootVer = hex.EncodeToString(sum[:8])
	names := make([]string, 0, len(leaves))
	for n := range leaves {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		h := sha256.New()
		h.Write(leaves[n].CertPEM)
		h.Write([]byte{0})
		h.Write(leaves[n].KeyPEM)
		v := h.Sum(nil)
		s.leafVer[n] = hex.EncodeToString(v[:8])
		all.Write([]byte(n))
		all.Write(v)
	}
	s.version = hex.EncodeToString(all.Sum(nil)[:8])
	return s
}

// Version is a hash of all the secrets; "" for nil.
func (s *Secrets) Version() string {
	if s == nil {
		return ""
	}
	return s.version
}

// RootsVersion is a hash of the roots; "" for nil.
func (s *Secrets) RootsVersion() string {
	if s == nil {
		return ""
	}
	return s.rootVer
}

// LeafVersion is a hash of service name's leaf; "" if there is none.
func (s *Secrets) LeafVersion(name string) string {
	if s == nil {
		return ""
	}
	return s.leafVer[name]
}

// Leaf returns service name's leaf.
func (s *Secrets) Leaf(name string) (Leaf, bool) {
	if s == nil {
		return Leaf{}, false
	}
	l, ok := s.Leaves[name]
	return l, ok
}

// LogValue keeps keys out of logs.
func (s *Secrets) LogValue() slog.Value { return slog.StringValue("secrets@" + s.Version()) }
