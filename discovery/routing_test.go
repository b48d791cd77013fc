package discovery

import (
	"strings"
	"testing"
)

func TestRoutingValidation(t *testing.T) {
	to := func(svc ...string) []Destination {
		var d []Destination
		for _, s := range svc {
			d = append(d, Destination{Service: s})
		}
		return d
	}
	tests := []struct {
		name string
		edit func(s *Service)
		want string // error substring; "" means valid
	}{
		{"valid", func(s *Service) {
			s.Routes = []Route{{Match: RouteMatch{PathPrefix: "/a"}, Destinations: to("web")}}
			s.Failover = []string{"web"}
		}, ""},
		{"unknown destination", func(s *Service) { s.Routes = []Route{{Destinations: to("nope")}} },
			`routes[0].destinations[0].service: unknown service "nope"`},
		{"no destination", func(s *Service) { s.Routes = []Route{{}} }, "at least one is required"},
		{"zero weights", func(s *Service) { s.Routes = []Route{{Destinations: to("web", "web")}} },
			"weights must not all be zero"},
		{"two paths", func(s *Service) {
			s.Routes = []Route{{Match: RouteMatch{PathExact: "/a", PathPrefix: "/b"}, Destinations: to("web")}}
		}, "at most one of path_exact"},
		{"bad regex", func(s *Service) {
			s.Routes = []Route{{Match: RouteMatch{Headers: []HeaderMatch{{Name: "x", Regex: "(("}}}, Destinations: to("web")}}
		}, `regex "(("`},
		{"failover to itself", func(s *Service) { s.Failover = []string{"api"} }, "failover[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := api()
			tt.edit(&a)
			_, err := New([]Service{web(9001), a})
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("New() error = %v, want none", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("New() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
