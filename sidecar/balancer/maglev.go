package balancer

import (
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// Maglev is the name of Envoy's maglev policy.
const Maglev = "maglev"

// defaultMaglevTableSize is Envoy's maglev_lb_config.table_size default.
const defaultMaglevTableSize = 65537

func init() { Register(maglevBuilder{}) }

type maglevBuilder struct{}

func (maglevBuilder) Name() string { return Maglev }

func (maglevBuilder) Build(cfg *spec.Cluster, endpoints []*cluster.Endpoint) cluster.Picker {
	size := cfg.MaglevTableSize
	if size == 0 {
		size = defaultMaglevTableSize
	}
	return newMaglev(endpoints, size)
}

// maglev is a lookup table of a prime size, filled as Envoy's
// MaglevTable fills it (Eisenbud et al., weighted): each endpoint walks
// its own permutation of the slots (offset xxHash64(address, seed 0),
// skip xxHash64(address, seed 1)), taking the next free slot in turn,
// an endpoint of weight w taking a turn w/max-weight of the rounds,
// endpoints in address order.
type maglev struct {
	table []*cluster.Endpoint
}

var _ cluster.Picker = (*maglev)(nil)

type maglevEntry struct {
	e                    *cluster.Endpoint
	offset, skip, next   uint64
	weight, targetWeight float64
}

func newMaglev(endpoints []*cluster.Endpoint, size uint64) *maglev {
	// Fill in address order, as Envoy does, so the table does not depend
	// on the order endpoints arrive in.
	endpoints = slices.Clone(endpoints)
	slices.SortStableFunc(endpoints, func(a, b *cluster.Endpoint) int { return strings.Compare(a.Addr, b.Addr) })
	weights, _ := normalizedWeights(endpoints)
	maxW := 0.0
	entries := make([]maglevEntry, len(endpoints))
	for i, e := range endpoints {
		d := xxhash.New()
		d.WriteString(e.Addr)
		offset := d.Sum64() % size
		skip := xxhashSeed1(e.Addr)%(size-1) + 1
		entries[i] = maglevEntry{e: e, offset: offset, skip: skip, weight: weights[i]}
		maxW = max(maxW, weights[i])
	}
	table := make([]*cluster.Endpoint, size)
	filled := uint64(0)
	for iter := 1.0; filled < size; iter++ {
		for i := 0; i < len(entries) && filled < size; i++ {
			en := &entries[i]
			if iter*en.weight < en.targetWeight {
				continue
			}
			en.targetWeight += maxW
			c := (en.offset + en.skip*en.next) % size
			for table[c] != nil {
				en.next++
				c = (en.offset + en.skip*en.next) % size
			}
			table[c] = en.e
			en.next++
			filled++
		}
	}
	return &maglev{table: table}
}

// xxhashSeed1 is xxHash64 of s with seed 1, Envoy's maglev skip hash.
func xxhashSeed1(s string) uint64 {
	d := xxhash.NewWithSeed(1)
	d.WriteString(s)
	return d.Sum64()
}

// Pick returns the table slot of hash; hash 0 (no hash policy matched)
// picks a random slot, as Envoy does.
func (m *maglev) Pick(hash uint64) *cluster.Endpoint {
	if hash == 0 {
		hash = randUint64()
	}
	return m.table[hash%uint64(len(m.table))]
}
