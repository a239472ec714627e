package bridge

import (
	"sync"
	"time"
)

// RateLimit bounds the decisions the bridge forwards per approver clientId:
// a token bucket of Burst tokens refilled at PerMinute tokens a minute.
// Memory is bounded by MaxClients buckets. Zero fields take the defaults.
type RateLimit struct {
	PerMinute  float64 // default 10
	Burst      int     // default 10
	MaxClients int     // default 10000
}

// rateLimiter is a bounded map of token buckets keyed by clientId.
type rateLimiter struct {
	perMinute float64
	burst     float64
	max       int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(c RateLimit) *rateLimiter {
	if c.PerMinute <= 0 {
		c.PerMinute = 10
	}
	if c.Burst <= 0 {
		c.Burst = 10
	}
	if c.MaxClients <= 0 {
		c.MaxClients = 10000
	}
	return &rateLimiter{perMinute: c.PerMinute, burst: float64(c.Burst), max: c.MaxClients, buckets: map[string]*bucket{}}
}

// refill brings b up to date at now. The caller holds l.mu.
func (l *rateLimiter) refill(b *bucket, now time.Time) {
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(l.burst, b.tokens+el.Minutes()*l.perMinute)
		b.last = now
	}
}

// allow takes one token of key at now, and reports whether there was one.
func (l *rateLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// refund gives back a token taken for a signal that could not be sent.
func (l *rateLimiter) refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[key]; ok {
		b.tokens = min(l.burst, b.tokens+1)
	}
}

// evict makes room for one bucket: full buckets carry no state and go
// first; if none is full, the least recently used one goes. The caller
// holds l.mu.
func (l *rateLimiter) evict(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
			continue
		}
		if oldestKey == "" || b.last.Before(oldest) {
			oldestKey, oldest = k, b.last
		}
	}
	if len(l.buckets) >= l.max && oldestKey != "" {
		delete(l.buckets, oldestKey)
	}
}

func (l *rateLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
