package spec

// XFCCMode is how an HTTP connection manager treats the
// x-forwarded-client-cert header (Envoy's forward_client_cert_details).
type XFCCMode int

// XFCC modes, as HttpConnectionManager.ForwardClientCertDetails.
const (
	XFCCSanitize          XFCCMode = iota // remove it (the default)
	XFCCForwardOnly                       // forward it unchanged on mTLS, remove it otherwise
	XFCCAppendForward                     // append the client's details on mTLS
	XFCCSanitizeSet                       // replace it with the client's details on mTLS
	XFCCAlwaysForwardOnly                 // forward it unchanged, always
)

// XFCCDetails are the client certificate's fields an XFCC element
// carries besides By and Hash (Envoy's set_current_client_cert_details).
type XFCCDetails uint8

// XFCC detail fields.
const (
	XFCCSubject XFCCDetails = 1 << iota
	XFCCCert
	XFCCChain
	XFCCDNS
	XFCCURI
)

// XFCC configures the x-forwarded-client-cert header.
type XFCC struct {
	Mode    XFCCMode
	Details XFCCDetails
}
