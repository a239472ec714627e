// Package loopback owns what counts as this machine for settings that may
// only point at it, or may only go without TLS to it: a model URL without
// a key, the benchmark's Temporal server, the approver CLI's auth server
// and Ably endpoint over plain text. It imports nothing of the project, so
// that the bridge (which must not import config) and the untrusted CLI
// can share it.
package loopback

import (
	"net"
	"net/url"
)

// IsHost reports whether host (a name or an IP, without a port) is this
// machine: localhost, 127.0.0.0/8 or ::1.
func IsHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// InClear reports whether u would travel in clear off this machine: plain
// http:// to a host that is not this machine.
func InClear(u *url.URL) bool {
	return u.Scheme == "http" && !IsHost(u.Hostname())
}
