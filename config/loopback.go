package config

import "net"

// IsLoopbackHost reports whether host (a name or an IP, without a port)
// is this machine: localhost, 127.0.0.0/8 or ::1. Settings that may only
// point at this machine (a model without a key, the benchmark's Temporal
// server) check their host with it.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
