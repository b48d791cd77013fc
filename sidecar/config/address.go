package config

import (
	"net"
	"net/netip"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

var (
	addressFields       = allow(&corev3.Address{}, "socket_address")
	socketAddressFields = allow(&corev3.SocketAddress{}, "address", "port_value")
)

// decodeAddress turns an Address holding a TCP socket_address into
// "host:port", the host an IP literal in canonical form (IPv6 bracketed).
// Port 0 is accepted only when anyPort is set (a listener binding any
// free port); an upstream endpoint needs a real one.
func decodeAddress(a *corev3.Address, anyPort bool) (string, error) {
	if a == nil {
		return "", errorf("", "required")
	}
	if err := addressFields.check(a); err != nil {
		return "", err
	}
	sa := a.GetSocketAddress()
	if sa == nil {
		return "", errorf("socket_address", "required")
	}
	addr, err := decodeSocketAddress(sa, anyPort)
	if err != nil {
		return "", within("socket_address", err)
	}
	return addr, nil
}

func decodeSocketAddress(sa *corev3.SocketAddress, anyPort bool) (string, error) {
	if err := socketAddressFields.check(sa); err != nil {
		return "", err
	}
	ip, err := netip.ParseAddr(sa.GetAddress())
	if err != nil {
		return "", errorf("address", "%q is not an IP address", sa.GetAddress())
	}
	port := sa.GetPortValue()
	if port == 0 && !anyPort {
		return "", errorf("port_value", "must not be 0")
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(uint64(port), 10)), nil
}
