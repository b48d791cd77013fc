package client

import (
	"sync"
	"time"
)

// TypeStatus is what the client last did with the responses of one
// resource type: the version it last ACKed and when, and the version it
// last NACKed, when, and the NACK's error (Envoy's config_dump
// error_state). A NACK stays reported after a later ACK; compare the times
// to tell whether it is still the latest word.
type TypeStatus struct {
	TypeURL     string
	ACKVersion  string    // "" before the first ACK
	ACKTime     time.Time // zero before the first ACK
	NACKVersion string
	NACKTime    time.Time // zero if the type was never NACKed
	NACKError   string
}

// XDSStatus returns the status of each resource type the client
// subscribes to, in a fixed order (listeners, routes, clusters, endpoints,
// secrets). It is read-only and safe for concurrent use.
func (c *Client) XDSStatus() []TypeStatus {
	return c.status.read()
}

// statusBoard holds the [TypeStatus] of each kind: written by the Run
// goroutine, read by the admin endpoints.
type statusBoard struct {
	mu sync.Mutex
	by [numKinds]TypeStatus
}

func (b *statusBoard) ack(k kind, version string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.by[k].ACKVersion, b.by[k].ACKTime = version, time.Now()
}

func (b *statusBoard) nack(k kind, version string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.by[k].NACKVersion, b.by[k].NACKTime, b.by[k].NACKError = version, time.Now(), err.Error()
}

func (b *statusBoard) read() []TypeStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]TypeStatus, numKinds)
	for k := range numKinds {
		out[k] = b.by[k]
		out[k].TypeURL = kinds[k].url
	}
	return out
}
