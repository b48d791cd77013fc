package config

import (
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/meshlb/meshlb/sidecar/spec"
)

var (
	certDetailsFields = allow(&hcmv3.HttpConnectionManager_SetCurrentClientCertDetails{},
		"subject", "cert", "chain", "dns", "uri")
	xfccModes = map[hcmv3.HttpConnectionManager_ForwardClientCertDetails]spec.XFCCMode{
		hcmv3.HttpConnectionManager_SANITIZE:            spec.XFCCSanitize,
		hcmv3.HttpConnectionManager_FORWARD_ONLY:        spec.XFCCForwardOnly,
		hcmv3.HttpConnectionManager_APPEND_FORWARD:      spec.XFCCAppendForward,
		hcmv3.HttpConnectionManager_SANITIZE_SET:        spec.XFCCSanitizeSet,
		hcmv3.HttpConnectionManager_ALWAYS_FORWARD_ONLY: spec.XFCCAlwaysForwardOnly,
	}
)

// decodeXFCC decodes forward_client_cert_details and
// set_current_client_cert_details. As in Envoy, the details are used
// only by APPEND_FORWARD and SANITIZE_SET.
func decodeXFCC(m *hcmv3.HttpConnectionManager) (spec.XFCC, error) {
	mode, ok := xfccModes[m.GetForwardClientCertDetails()]
	if !ok {
		return spec.XFCC{}, errorf("forward_client_cert_details", "%s is not supported", m.GetForwardClientCertDetails())
	}
	d := m.GetSetCurrentClientCertDetails()
	if err := certDetailsFields.check(d); err != nil {
		return spec.XFCC{}, within("set_current_client_cert_details", err)
	}
	out := spec.XFCC{Mode: mode}
	for _, f := range []struct {
		set bool
		bit spec.XFCCDetails
	}{
		{d.GetSubject().GetValue(), spec.XFCCSubject}, {d.GetCert(), spec.XFCCCert}, {d.GetChain(), spec.XFCCChain},
		{d.GetDns(), spec.XFCCDNS}, {d.GetUri(), spec.XFCCURI},
	} {
		if f.set {
			out.Details |= f.bit
		}
	}
	return out, nil
}
