package authserver

import (
	"net"
	"net/http"
	"strings"
)

// ablyCloudSources are where ably-js reaches Ably itself with its default
// endpoint: the primary host, the fallback hosts, and the connectivity
// checks (internet-up and ws-up) under ably-realtime.com.
var ablyCloudSources = []string{
	"https://main.realtime.ably.net", "wss://main.realtime.ably.net",
	"https://*.ably-realtime.com", "wss://*.ably-realtime.com",
}

// contentSecurityPolicy is the inbox's policy. Scripts, styles, images and
// forms come from this origin only; nothing may be inlined (no inline
// script or style, no eval), Trusted Types forbid every DOM sink that
// parses HTML or script, and the only other origin the page may reach is
// Ably, over connect-src: the configured endpoint (ablyEndpoint, host:port,
// with ablyTLS), or Ably's own hosts when it is empty.
func contentSecurityPolicy(ablyEndpoint string, ablyTLS bool) string {
	connect := []string{"'self'"}
	if ablyEndpoint == "" {
		connect = append(connect, ablyCloudSources...)
	} else {
		httpScheme, wsScheme := "http://", "ws://"
		if ablyTLS {
			httpScheme, wsScheme = "https://", "wss://"
		}
		host, port, err := net.SplitHostPort(ablyEndpoint)
		if err == nil {
			hp := net.JoinHostPort(host, port)
			connect = append(connect, httpScheme+hp, wsScheme+hp)
		}
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self'",
		"connect-src " + strings.Join(connect, " "),
		"form-action 'self'",
		"frame-ancestors 'none'",
		"base-uri 'none'",
		"require-trusted-types-for 'script'",
		"trusted-types 'none'",
	}, "; ")
}

// setPageHeaders sets the security headers of every inbox response: the
// policy, no sniffing, no framing, no referrer to other origins, a window
// of its own. (Referrer-Policy is same-origin, not no-referrer: under
// no-referrer a browser sends "Origin: null" with its own form posts, and
// one without Sec-Fetch-Site would then fail the cross-origin check.)
func (s *Server) setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", s.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
}
