package stats

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// consulStatsConfig reads the stats_config of the bootstrap Consul 1.21
// writes (recorded in sidecar/config's testdata).
func consulStatsConfig(t testing.TB) spec.StatsConfig {
	raw, err := os.ReadFile("../config/testdata/consul-1.21-bootstrap.json")
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		StatsConfig struct {
			StatsTags []struct {
				TagName    string  `json:"tag_name"`
				Regex      string  `json:"regex"`
				FixedValue *string `json:"fixed_value"`
			} `json:"stats_tags"`
		} `json:"stats_config"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	var sc spec.StatsConfig
	for _, tg := range b.StatsConfig.StatsTags {
		st := spec.StatsTag{Name: tg.TagName, Regex: tg.Regex}
		if tg.FixedValue != nil {
			st.Fixed = *tg.FixedValue
		}
		sc.Tags = append(sc.Tags, st)
	}
	if len(sc.Tags) != 30 {
		t.Fatalf("the Consul bootstrap has %d stats_tags, want 30", len(sc.Tags))
	}
	return sc
}

const (
	trust     = "11111111-2222-3333-4444-555555555555"
	consulAPI = "api.default.dc1.internal." + trust + ".consul"
)

// source are the fixed_value tags of Consul's bootstrap for service web;
// Envoy adds a fixed tag to every stat (TagExtractorFixedImpl).
var source = []Tag{{"local_cluster", "web"}, {"consul.source.service", "web"}, {"consul.source.namespace", "default"},
	{"consul.source.partition", "default"}, {"consul.source.datacenter", "dc1"}}

// destination are the tags Consul's cluster regexes give an upstream
// cluster api.default.dc1.internal.<trust>.consul, in stats_tags order.
// Each regex's first group is "api.default.dc1.internal.<trust>.consul."
// (all of it is cut); the value is the second group. custom_hash
// ((?:([^.]+)~)?), service_subset ((?:([^.]+)\.)?) and partition
// ((?:([^.]+)\.)? before the datacenter) are optional groups that take no
// part in this name: Envoy runs stats_tags as std::regex, whose match
// has a second sub-match even when it did not participate, so the tag is
// there with an empty value. consul.destination.peer wants ".external."
// and the consul.upstream.* regexes want "tcp." or "http.": no tag.
var destination = func() []Tag {
	var out []Tag
	for _, p := range []string{"consul.destination.", "consul."} {
		out = append(out, []Tag{{p + "custom_hash", ""}, {p + "service_subset", ""}, {p + "service", "api"},
			{p + "namespace", "default"}}...)
		if p == "consul.destination." {
			out = append(out, Tag{p + "partition", ""})
		}
		out = append(out, []Tag{{p + "datacenter", "dc1"}, {p + "routing_type", "internal"}, {p + "trust_domain", trust},
			{p + "target", "api.default.dc1"}, {p + "full_target", "api.default.dc1.internal." + trust}}...)
	}
	return out
}()

func cat(parts ...[]Tag) []Tag {
	var out []Tag
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestTagProducer checks names and tags against Envoy's rules. Order is
// Envoy's: extractors without a prefix token first (the default
// response-code regexes, "_rq(_(\d{3}))$" and "_rq_((\d))xx$"; then the
// tokenized "$.http_local_rate_limit.**"; then Consul's
// "^(?:tcp|http)\.upstream…" regexes and the fixed tags), then those
// whose prefix is the name's first token (defaults first, then
// stats_tags).
func TestTagProducer(t *testing.T) {
	consul, err := NewTagProducer(consulStatsConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := NewTagProducer(spec.StatsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		p     *TagProducer
		stat  string
		want  string
		wantT []Tag
	}{
		// "cluster.$.**" (envoy.cluster_name) takes the first token after
		// "cluster." and cuts "api."; Consul's regexes cut the whole
		// "api.default…consul.": together, "cluster.upstream_rq_total".
		{"consul cluster", consul, "cluster." + consulAPI + ".upstream_rq_total", "cluster.upstream_rq_total",
			cat(source, []Tag{{"envoy.cluster_name", "api"}}, destination)},
		// "_rq(_(\d{3}))$" cuts "_200", value 200.
		{"consul cluster code", consul, "cluster." + consulAPI + ".upstream_rq_200", "cluster.upstream_rq",
			cat([]Tag{{"envoy.response_code", "200"}}, source, []Tag{{"envoy.cluster_name", "api"}}, destination)},
		// "_rq_((\d))xx$" cuts "5", value 5.
		{"consul cluster class", consul, "cluster." + consulAPI + ".upstream_rq_5xx", "cluster.upstream_rq_xx",
			cat([]Tag{{"envoy.response_code_class", "5"}}, source, []Tag{{"envoy.cluster_name", "api"}}, destination)},
		// No ".consul." suffix: only "cluster.$.**" and the fixed tags.
		{"consul plain name", consul, "cluster.local_app.upstream_rq_total", "cluster.upstream_rq_total",
			cat(source, []Tag{{"envoy.cluster_name", "local_app"}})},
		{"plain name", plain, "cluster.service_api.upstream_rq_total", "cluster.upstream_rq_total",
			[]Tag{{"envoy.cluster_name", "service_api"}}},
		// A dotted name that is no Consul target: "cluster.$.**" takes and
		// cuts "my." only, the rest stays in the stat name.
		{"dotted name", plain, "cluster.my.dotted.name.upstream_rq_total", "cluster.dotted.name.upstream_rq_total",
			[]Tag{{"envoy.cluster_name", "my"}}},
		{"dotted name, Consul tags", consul, "cluster.my.dotted.name.upstream_rq_2xx", "cluster.dotted.name.upstream_rq_xx",
			cat([]Tag{{"envoy.response_code_class", "2"}}, source, []Tag{{"envoy.cluster_name", "my"}})},
		// "cluster.$.**" needs a token after the value.
		{"no stat after the cluster", plain, "cluster.web", "cluster.web", nil},
		// Consul's upstream listener prefix: "http.$.**" takes "upstream";
		// the consul.upstream.* regexes cut "api.default.default.dc1.".
		{"consul upstream http", consul, "http.upstream.api.default.default.dc1.downstream_rq_total", "http.downstream_rq_total",
			cat([]Tag{{"consul.upstream.service", "api"}, {"consul.upstream.datacenter", "dc1"}, {"consul.upstream.namespace", "default"},
				{"consul.upstream.partition", "default"}}, source, []Tag{{"envoy.http_conn_manager_prefix", "upstream"}})},
		// "^listener\.((<ADDRESS>|<TAG_VALUE>)\.)" takes the address.
		{"listener", plain, "listener.127.0.0.1_9191.downstream_cx_total", "listener.downstream_cx_total",
			[]Tag{{"envoy.listener_address", "127.0.0.1_9191"}}},
		// ... but not "admin" (its negative match).
		{"admin listener", plain, "listener.admin.downstream_cx_total", "listener.admin.downstream_cx_total", nil},
		{"tcp", plain, "tcp.db.downstream_cx_total", "tcp.downstream_cx_total", []Tag{{"envoy.tcp_prefix", "db"}}},
		// "http.*.fault.$.**" wants a token after the value: no
		// envoy.fault_downstream_cluster here.
		{"fault", plain, "http.in.fault.aborts_injected", "http.fault.aborts_injected",
			[]Tag{{"envoy.http_conn_manager_prefix", "in"}}},
		{"fault downstream", plain, "http.in.fault.web.aborts_injected", "http.fault.aborts_injected",
			[]Tag{{"envoy.fault_downstream_cluster", "web"}, {"envoy.http_conn_manager_prefix", "in"}}},
		{"http local rate limit", plain, "rl.http_local_rate_limit.rate_limited", "http_local_rate_limit.rate_limited",
			[]Tag{{"envoy.local_http_ratelimit_prefix", "rl"}}},
		// Envoy's network filter names its stats local_ratelimit.<prefix>.
		// but its extractor is "local_rate_limit.$.**": no tag.
		{"network local rate limit", plain, "local_ratelimit.in.rate_limited", "local_ratelimit.in.rate_limited", nil},
		{"server", consul, "server.live", "server.live", source},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, tags := tt.p.Produce(tt.stat)
			if got != tt.want {
				t.Errorf("Produce(%q) name = %q, want %q", tt.stat, got, tt.want)
			}
			if diff := cmp.Diff(tt.wantT, tags, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Produce(%q) tags (-want +got):\n%s", tt.stat, diff)
			}
		})
	}
}

// TestTagProducerRules checks Envoy's rules on custom tags: a regex with
// one group gives that group as the value; the first extractor of a tag
// name wins; a name alone takes Envoy's default of that name; removals
// of overlapping cuts are merged; defaults can be turned off.
func TestTagProducerRules(t *testing.T) {
	tests := []struct {
		name  string
		sc    spec.StatsConfig
		stat  string
		want  string
		wantT []Tag
	}{
		{"one group", spec.StatsConfig{Tags: []spec.StatsTag{{Name: "v", Regex: `_(v\d+)`}}}, "cluster.web_v2.x", "cluster.x",
			[]Tag{{"v", "v2"}, {"envoy.cluster_name", "web_v2"}}},
		{"first wins", spec.StatsConfig{Tags: []spec.StatsTag{{Name: "envoy.cluster_name", Regex: `^cluster\.((\w+)_v\d+\.)`}}},
			"cluster.web_v2.x", "cluster.x", []Tag{{"envoy.cluster_name", "web_v2"}}},
		{"name alone", spec.StatsConfig{NoDefaultTags: true, Tags: []spec.StatsTag{{Name: "envoy.cluster_name", Default: true}}},
			"cluster.web.upstream_rq_200", "cluster.upstream_rq_200", []Tag{{"envoy.cluster_name", "web"}}},
		{"no defaults", spec.StatsConfig{NoDefaultTags: true, Tags: []spec.StatsTag{{Name: "zone", Fixed: "z1"}}},
			"cluster.web.upstream_rq_200", "cluster.web.upstream_rq_200", []Tag{{"zone", "z1"}}},
		{"fixed empty", spec.StatsConfig{NoDefaultTags: true, Tags: []spec.StatsTag{{Name: "zone"}}},
			"x.y", "x.y", []Tag{{"zone", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewTagProducer(tt.sc)
			if err != nil {
				t.Fatal(err)
			}
			got, tags := p.Produce(tt.stat)
			if got != tt.want {
				t.Errorf("name = %q, want %q", got, tt.want)
			}
			if diff := cmp.Diff(tt.wantT, tags, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := NewTagProducer(spec.StatsConfig{Tags: []spec.StatsTag{{Name: "nope", Default: true}}}); err == nil {
		t.Error("a name alone with no default extractor made a producer")
	}
}

// BenchmarkProduceConsul is one stat name of a Consul upstream cluster
// under Consul's 30 stats_tags: what a scrape pays once per new stat.
func BenchmarkProduceConsul(b *testing.B) {
	p, err := NewTagProducer(consulStatsConfig(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Produce("cluster." + consulAPI + ".upstream_rq_total")
	}
}

// TestProduceWithPrefix: names that share a PrefixMemo get what Produce
// gives them, including rests that change a regex's match on the prefix
// (".x.consul.y" makes Consul's regexes take "api" as a subset).
func TestProduceWithPrefix(t *testing.T) {
	p, err := NewTagProducer(consulStatsConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	rests := []string{"upstream_rq_total", "upstream_rq_200", "upstream_rq_5xx", "circuit_breakers.default.rq_open",
		"x.consul.upstream_rq_total", "v1.consul.y", "ssl.ciphers.AES", "grpc.svc.m.total", ""}
	for _, cl := range []string{consulAPI, "v2." + consulAPI, "local_app", "a.b", "api.default.dc1.internal-v2." + trust + ".consul"} {
		prefix := "cluster." + cl + "."
		m := NewPrefixMemo(prefix)
		for _, rest := range rests {
			name := prefix + rest
			wantName, wantTags := p.Produce(name)
			gotName, gotTags := p.ProduceWith(name, m)
			if gotName != wantName || !cmp.Equal(gotTags, wantTags) {
				t.Errorf("ProduceWith(%q) = %q %v, Produce gives %q %v", name, gotName, gotTags, wantName, wantTags)
			}
		}
	}
}

// BenchmarkProduceWithConsul is BenchmarkProduceConsul for a stat of a
// cluster whose other stats have filled the PrefixMemo.
func BenchmarkProduceWithConsul(b *testing.B) {
	p, err := NewTagProducer(consulStatsConfig(b))
	if err != nil {
		b.Fatal(err)
	}
	m := NewPrefixMemo("cluster." + consulAPI + ".")
	p.ProduceWith("cluster."+consulAPI+".upstream_cx_total", m)
	b.ReportAllocs()
	for b.Loop() {
		p.ProduceWith("cluster."+consulAPI+".upstream_rq_total", m)
	}
}
