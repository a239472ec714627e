package authserver

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// failureLimiter counts failed logins per key (a client address, or a user
// name and client address) in a fixed window that starts at the key's first
// failure. A key with more than max failures in its window is over its
// limit until the window ends. Memory is bounded: at most size keys are
// kept; when full, expired windows are dropped first, then the oldest
// window.
type failureLimiter struct {
	max    int
	window time.Duration
	size   int

	mu      sync.Mutex
	entries map[string]*failWindow
}

type failWindow struct {
	start time.Time
	count int
}

func newFailureLimiter(maxFailures int, window time.Duration, size int) *failureLimiter {
	return &failureLimiter{max: maxFailures, window: window, size: size, entries: map[string]*failWindow{}}
}

// fail counts one failure of key at now. It reports whether key is now
// over its limit (more than max failures in the window) and how long the
// window still runs.
func (l *failureLimiter) fail(key string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.current(key, now)
	if e == nil {
		if len(l.entries) >= l.size {
			l.evict(now)
		}
		e = &failWindow{start: now}
		l.entries[key] = e
	}
	e.count++
	return e.start.Add(l.window).Sub(now), e.count > l.max
}

// current returns key's window if it is still open at now, dropping an
// expired one. The caller holds l.mu.
func (l *failureLimiter) current(key string, now time.Time) *failWindow {
	e, ok := l.entries[key]
	if !ok {
		return nil
	}
	if !now.Before(e.start.Add(l.window)) {
		delete(l.entries, key)
		return nil
	}
	return e
}

// reset forgets key's failures.
func (l *failureLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, key)
}

// len returns the number of keys held.
func (l *failureLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// evict makes room for one entry. The caller holds l.mu.
func (l *failureLimiter) evict(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, e := range l.entries {
		if !now.Before(e.start.Add(l.window)) {
			delete(l.entries, k)
			continue
		}
		if oldestKey == "" || e.start.Before(oldest) {
			oldestKey, oldest = k, e.start
		}
	}
	if len(l.entries) >= l.size && oldestKey != "" {
		delete(l.entries, oldestKey)
	}
}

// clientKey returns the rate-limit key of a client address (host or
// host:port): the IPv4 address, or the /64 prefix of an IPv6 address (one
// host usually owns a whole /64).
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return "addr:" + host
	}
	return addrKey(addr)
}

func addrKey(addr netip.Addr) string {
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + addr.String()
}

// maxForwardedHops bounds the X-Forwarded-For entries examined.
const maxForwardedHops = 32

// clientAddress returns the address the rate limits key on. Forwarding
// headers are trusted only from a peer inside trusted: then the client is
// the right-most X-Forwarded-For entry that is not itself a trusted proxy
// (entries left of it were written by the client and prove nothing). With
// no trusted proxies, or from any other peer, it is the peer address.
func clientAddress(remoteAddr string, xff []string, trusted []netip.Prefix) string {
	if len(trusted) == 0 {
		return remoteAddr
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !inPrefixes(peer, trusted) {
		return remoteAddr
	}
	var entries []string
	for _, v := range xff {
		for e := range strings.SplitSeq(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				entries = append(entries, e)
			}
		}
	}
	client := remoteAddr
	for i, hops := len(entries)-1, 0; i >= 0 && hops < maxForwardedHops; i, hops = i-1, hops+1 {
		e := entries[i]
		a, err := parseForwarded(e)
		if err != nil {
			// Our proxy would not write garbage: someone else did. Key on
			// the text as it is, so that it limits only itself.
			return e
		}
		client = a.String()
		if !inPrefixes(a, trusted) {
			return client
		}
	}
	return client
}

// parseForwarded parses one X-Forwarded-For entry: an IP address,
// optionally with a port ("192.0.2.1:80", "[2001:db8::1]:80").
func parseForwarded(e string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(e); err == nil {
		return a, nil
	}
	ap, err := netip.ParseAddrPort(e)
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr(), nil
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	a = a.Unmap().WithZone("")
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes or
// single IP addresses ("10.0.0.0/8, 192.0.2.7"). Empty means none.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("trusted proxy %q: want a CIDR prefix or an IP address", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
