package server

import (
	"strings"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tcpproxy "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/meshlb/meshlb/discovery"
)

// upstreamRoutes returns the route table [UpstreamName](svc.Name): svc's
// routes in order, then, unless the last one matches everything, a
// catch-all route to svc's own cluster with svc's resilience timeout,
// retries and hash policies.
func upstreamRoutes(svc *discovery.Service) *route.RouteConfiguration {
	rc := routeConfig(UpstreamName(svc.Name), svc.Name, svc.Name)
	routeResilience(rc.VirtualHosts[0].Routes[0].GetRoute(), svc.Resilience)
	if len(svc.Routes) == 0 {
		return rc
	}
	vh := rc.VirtualHosts[0]
	fallback := vh.Routes[0]
	vh.Routes = make([]*route.Route, 0, len(svc.Routes)+1)
	for i := range svc.Routes {
		vh.Routes = append(vh.Routes, envoyRoute(&svc.Routes[i]))
	}
	if !svc.Routes[len(svc.Routes)-1].Match.IsCatchAll() {
		vh.Routes = append(vh.Routes, fallback)
	}
	return rc
}

// inboundRoutes returns the inline route table of the inbound listener:
// everything to [LocalAppCluster], with sc.LocalRequestTimeout as the
// route timeout when set.
func inboundRoutes(sc *discovery.Sidecar) *route.RouteConfiguration {
	rc := routeConfig(InboundListener, InboundListener, LocalAppCluster)
	if sc.LocalRequestTimeout > 0 {
		rc.VirtualHosts[0].Routes[0].GetRoute().Timeout = durationpb.New(sc.LocalRequestTimeout)
	}
	return rc
}

// tcpUpstreamFilter returns the tcp_proxy filter for TCP service svc. TCP
// honours only svc's last route, when it matches everything (a resolver
// redirect or default subset, or a split): its destinations, weighted when
// there are several; otherwise svc's own cluster.
func tcpUpstreamFilter(stat string, svc *discovery.Service) (*listener.Filter, error) {
	n := len(svc.Routes)
	if n == 0 || !svc.Routes[n-1].Match.IsCatchAll() {
		return tcpProxyFilter(stat, svc.Name)
	}
	dst := svc.Routes[n-1].Destinations
	if len(dst) == 1 {
		return tcpProxyFilter(stat, dst[0].Service)
	}
	wc := &tcpproxy.TcpProxy_WeightedCluster{}
	for _, d := range dst {
		wc.Clusters = append(wc.Clusters, &tcpproxy.TcpProxy_WeightedCluster_ClusterWeight{
			Name: d.Service, Weight: uint32(d.Weight)})
	}
	return typedFilter(wellknown.TCPProxy, &tcpproxy.TcpProxy{
		StatPrefix:       stat,
		ClusterSpecifier: &tcpproxy.TcpProxy_WeightedClusters{WeightedClusters: wc},
	})
}

// envoyRoute translates one catalog route.
func envoyRoute(r *discovery.Route) *route.Route {
	a := &route.RouteAction{PrefixRewrite: r.PrefixRewrite}
	if len(r.Destinations) == 1 {
		a.ClusterSpecifier = &route.RouteAction_Cluster{Cluster: r.Destinations[0].Service}
	} else {
		wc := &route.WeightedCluster{}
		for _, d := range r.Destinations {
			wc.Clusters = append(wc.Clusters, &route.WeightedCluster_ClusterWeight{
				Name: d.Service, Weight: wrapperspb.UInt32(uint32(d.Weight))})
		}
		a.ClusterSpecifier = &route.RouteAction_WeightedClusters{WeightedClusters: wc}
	}
	if r.Timeout > 0 {
		a.Timeout = durationpb.New(r.Timeout)
	}
	if rt := r.Retry; rt != nil {
		a.RetryPolicy = retryPolicy(rt)
	}
	a.HashPolicy = hashPolicies(r.HashPolicies)
	return &route.Route{Match: envoyMatch(&r.Match), Action: &route.Route_Route{Route: a}}
}

// retryPolicy translates a retry policy.
func retryPolicy(rt *discovery.Retry) *route.RetryPolicy {
	p := &route.RetryPolicy{RetryOn: strings.Join(rt.On, ","),
		NumRetries: wrapperspb.UInt32(uint32(rt.NumRetries)), RetriableStatusCodes: rt.StatusCodes}
	if rt.PerTryTimeout > 0 {
		p.PerTryTimeout = durationpb.New(rt.PerTryTimeout)
	}
	return p
}

// envoyMatch translates a route match; methods become a ":method" header
// regex, as in Consul's generated routes.
func envoyMatch(m *discovery.RouteMatch) *route.RouteMatch {
	out := &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}}
	switch {
	case m.PathExact != "":
		out.PathSpecifier = &route.RouteMatch_Path{Path: m.PathExact}
	case m.PathPrefix != "":
		out.PathSpecifier = &route.RouteMatch_Prefix{Prefix: m.PathPrefix}
	case m.PathRegex != "":
		out.PathSpecifier = &route.RouteMatch_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: m.PathRegex}}
	}
	if m.CaseInsensitive {
		out.CaseSensitive = wrapperspb.Bool(false)
	}
	if len(m.Methods) > 0 {
		out.Headers = append(out.Headers, &route.HeaderMatcher{Name: ":method",
			HeaderMatchSpecifier: stringMatch(&matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_SafeRegex{
				SafeRegex: &matcher.RegexMatcher{Regex: strings.Join(m.Methods, "|")}}})})
	}
	for _, h := range m.Headers {
		out.Headers = append(out.Headers, headerMatcher(h))
	}
	for _, q := range m.Query {
		out.QueryParameters = append(out.QueryParameters, queryMatcher(q))
	}
	return out
}

func headerMatcher(h discovery.HeaderMatch) *route.HeaderMatcher {
	out := &route.HeaderMatcher{Name: strings.ToLower(h.Name), InvertMatch: h.Invert}
	var sm *matcher.StringMatcher
	switch {
	case h.Exact != "":
		sm = &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: h.Exact}}
	case h.Prefix != "":
		sm = &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Prefix{Prefix: h.Prefix}}
	case h.Suffix != "":
		sm = &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Suffix{Suffix: h.Suffix}}
	case h.Regex != "":
		sm = &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_SafeRegex{
			SafeRegex: &matcher.RegexMatcher{Regex: h.Regex}}}
	default:
		out.HeaderMatchSpecifier = &route.HeaderMatcher_PresentMatch{PresentMatch: true}
		return out
	}
	out.HeaderMatchSpecifier = stringMatch(sm)
	return out
}

func stringMatch(sm *matcher.StringMatcher) *route.HeaderMatcher_StringMatch {
	return &route.HeaderMatcher_StringMatch{StringMatch: sm}
}

func queryMatcher(q discovery.QueryMatch) *route.QueryParameterMatcher {
	out := &route.QueryParameterMatcher{Name: q.Name}
	switch {
	case q.Exact != "":
		out.QueryParameterMatchSpecifier = &route.QueryParameterMatcher_StringMatch{StringMatch: &matcher.StringMatcher{
			MatchPattern: &matcher.StringMatcher_Exact{Exact: q.Exact}}}
	case q.Regex != "":
		out.QueryParameterMatchSpecifier = &route.QueryParameterMatcher_StringMatch{StringMatch: &matcher.StringMatcher{
			MatchPattern: &matcher.StringMatcher_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: q.Regex}}}}
	default:
		out.QueryParameterMatchSpecifier = &route.QueryParameterMatcher_PresentMatch{PresentMatch: true}
	}
	return out
}
