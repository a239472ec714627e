package authserver

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// failureLimiter counts failed logins per key (a client address or a user
// name) in a fixed window that starts at the key's first counted attempt. A
// key with max failures in its window is blocked until the window ends. Memory
// is bounded: at most size keys are kept; when full, expired windows are
// dropped first, then the oldest window.
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

// blocked reports whether key is blocked at now and for how long.
func (l *failureLimiter) blocked(key string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.current(key, now)
	if e == nil || e.count < l.max {
		return 0, false
	}
	return e.start.Add(l.window).Sub(now), true
}

// attempt counts one attempt of key at now, unless key is blocked; then it
// returns false and how long the block lasts. Attempts are counted before
// the password is checked, so parallel requests cannot get more than max
// guesses per window; forgive takes back an attempt that did not fail.
func (l *failureLimiter) attempt(key string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.current(key, now)
	if e != nil && e.count >= l.max {
		return e.start.Add(l.window).Sub(now), false
	}
	if e == nil {
		if len(l.entries) >= l.size {
			l.evict(now)
		}
		e = &failWindow{start: now}
		l.entries[key] = e
	}
	e.count++
	return 0, true
}

// forgive takes back one attempt of key.
func (l *failureLimiter) forgive(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[key]; ok {
		e.count--
		if e.count <= 0 {
			delete(l.entries, key)
		}
	}
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

// clientKey returns the rate-limit key of a request's remote address: the
// IPv4 address, or the /64 prefix of an IPv6 address (one host usually owns
// a whole /64). Forwarding headers are not trusted.
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return "addr:" + host
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + addr.String()
}
