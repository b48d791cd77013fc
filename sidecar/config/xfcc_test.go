package config

import (
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestDecodeXFCC decodes forward_client_cert_details and
// set_current_client_cert_details, as Consul sets them on a public
// listener.
func TestDecodeXFCC(t *testing.T) {
	hcm := func(fields string) string {
		return strings.Replace(httpListener, "      stat_prefix: ingress\n", "      stat_prefix: ingress\n"+fields, 1) +
			"      route_config: {name: r}\n"
	}
	for _, tc := range []struct {
		name, fields string
		want         spec.XFCC
	}{
		{"default", "", spec.XFCC{}},
		{"consul", "      forward_client_cert_details: APPEND_FORWARD\n      set_current_client_cert_details: {subject: true, cert: true, chain: true, dns: true, uri: true}\n",
			spec.XFCC{Mode: spec.XFCCAppendForward, Details: spec.XFCCSubject | spec.XFCCCert | spec.XFCCChain | spec.XFCCDNS | spec.XFCCURI}},
		{"sanitize set", "      forward_client_cert_details: SANITIZE_SET\n      set_current_client_cert_details: {uri: true}\n",
			spec.XFCC{Mode: spec.XFCCSanitizeSet, Details: spec.XFCCURI}},
		{"forward only", "      forward_client_cert_details: FORWARD_ONLY\n", spec.XFCC{Mode: spec.XFCCForwardOnly}},
		{"always forward only", "      forward_client_cert_details: ALWAYS_FORWARD_ONLY\n", spec.XFCC{Mode: spec.XFCCAlwaysForwardOnly}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := DecodeListener(fromYAML(t, hcm(tc.fields), &listenerv3.Listener{}))
			if err != nil {
				t.Fatal(err)
			}
			if got := l.FilterChains[0].HTTP.XFCC; got != tc.want {
				t.Errorf("XFCC = %+v, want %+v", got, tc.want)
			}
		})
	}
}
