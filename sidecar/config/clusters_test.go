package config

import (
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// inlineRoutes is the tail of httpListener: an inline route configuration
// with a route to cluster a and a weighted route to a and b; validate is
// its validate_clusters line, or "".
func inlineRoutes(validate string) string {
	return `      route_config:
        name: local
` + validate + `        virtual_hosts:
        - name: all
          domains: ["*"]
          routes:
          - {match: {prefix: /a}, route: {cluster: a}}
          - match: {prefix: /}
            route: {weighted_clusters: {clusters: [{name: a, weight: 1}, {name: b, weight: 1}]}}
`
}

func TestValidateListenerClusters(t *testing.T) {
	const (
		tail    = `: filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].`
		missing = `listener "web"` + tail + `routes[1].route.weighted_clusters.clusters[1].name: unknown cluster "b" (validate_clusters)`
	)
	tests := []struct {
		name     string
		validate string
		clusters []string
		want     string // error, "" for none
	}{
		{name: "all exist", clusters: []string{"a", "b"}},
		{name: "weighted cluster missing", clusters: []string{"a"}, want: missing},
		{name: "route cluster missing", clusters: []string{"b"},
			want: `listener "web"` + tail + `routes[0].route.cluster: unknown cluster "a" (validate_clusters)`},
		{name: "explicit true", validate: "        validate_clusters: true\n", clusters: []string{"a"}, want: missing},
		{name: "explicit false", validate: "        validate_clusters: false\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := DecodeListener(fromYAML(t, httpListener+inlineRoutes(tt.validate), &listenerv3.Listener{}))
			if err != nil {
				t.Fatal(err)
			}
			err = ValidateListenerClusters(l, has(tt.clusters...))
			if got := errString(err); got != tt.want {
				t.Errorf("ValidateListenerClusters:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestValidateRouteClusters(t *testing.T) {
	tests := []struct {
		name     string
		validate string
		want     string
	}{
		{name: "RDS default is false"},
		{name: "explicit false", validate: "validate_clusters: false\n"},
		{name: "explicit true", validate: "validate_clusters: true\n",
			want: `route_config "rc": virtual_hosts[0].routes[0].route.cluster: unknown cluster "gone" (validate_clusters)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := DecodeRouteConfig(fromYAML(t, "name: rc\n"+tt.validate+`virtual_hosts:
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: gone}}]}
`, &routev3.RouteConfiguration{}))
			if err != nil {
				t.Fatal(err)
			}
			if got := errString(ValidateRouteClusters(rc, has("a"))); got != tt.want {
				t.Errorf("ValidateRouteClusters:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func has(names ...string) func(string) bool {
	return func(n string) bool {
		for _, m := range names {
			if m == n {
				return true
			}
		}
		return false
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
