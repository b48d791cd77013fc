package discovery

import "fmt"

// Limits caps what one sidecar sends to an upstream service (Envoy circuit
// breakers on the upstream's clusters; Consul's upstream limits). Zero
// fields mean the data plane's defaults.
type Limits struct {
	MaxConnections        int `json:"max_connections,omitempty"`
	MaxPendingRequests    int `json:"max_pending_requests,omitempty"`
	MaxConcurrentRequests int `json:"max_concurrent_requests,omitempty"`
}

func (l *Limits) validate() error {
	if l.MaxConnections < 0 || l.MaxPendingRequests < 0 || l.MaxConcurrentRequests < 0 {
		return fmt.Errorf("limits: must not be negative")
	}
	return nil
}
