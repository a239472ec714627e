package bridge

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit bounds the decisions the bridge forwards per approver clientId:
// a token bucket of Burst tokens refilled at PerMinute tokens a minute.
// Memory is bounded by MaxClients buckets. Zero fields take the defaults,
// sized for a person working through a queue: 100 decisions at once, then
// two a second. A flood cannot do much more anyway: each pending call is
// decided once, and a low role reaches a run once per call.
type RateLimit struct {
	PerMinute  float64 // default DefaultPerMinute
	Burst      int     // default DefaultBurst
	MaxClients int     // default 10000
}

// The default per-approver limit of forwarded decisions.
const (
	DefaultBurst     = 100
	DefaultPerMinute = 120
)

// rateLimiter is a bounded map of token buckets (x/time/rate) keyed by
// clientId.
type rateLimiter struct {
	perMinute float64
	burst     int
	max       int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time // of the latest allow, for eviction
}

// grant is one token taken by take, which refund can give back.
type grant struct {
	r  *rate.Reservation
	at time.Time
}

func newRateLimiter(c RateLimit) *rateLimiter {
	if c.PerMinute <= 0 {
		c.PerMinute = DefaultPerMinute
	}
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	if c.MaxClients <= 0 {
		c.MaxClients = 10000
	}
	return &rateLimiter{perMinute: c.PerMinute, burst: c.Burst, max: c.MaxClients, buckets: map[string]*bucket{}}
}

// allow takes one token of key at now, and reports whether there was one.
func (l *rateLimiter) allow(key string, now time.Time) bool {
	_, ok := l.take(key, now)
	return ok
}

// take takes one token of key at now, and reports whether there was one;
// refund gives that token back.
func (l *rateLimiter) take(key string, now time.Time) (grant, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max {
			l.evict(now)
		}
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.perMinute/60), l.burst)}
		l.buckets[key] = b
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if !r.OK() || r.DelayFrom(now) > 0 {
		r.CancelAt(now)
		return grant{}, false
	}
	return grant{r: r, at: now}, true
}

// refund gives back the token of g, taken for a signal that could not be
// sent. A bucket evicted meanwhile is full again anyway.
func (l *rateLimiter) refund(g grant) {
	if g.r != nil {
		g.r.CancelAt(g.at)
	}
}

// evict makes room for one bucket: full buckets carry no state and go
// first; if none is full, the least recently used one goes. The caller
// holds l.mu.
func (l *rateLimiter) evict(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, b := range l.buckets {
		if b.lim.TokensAt(now) >= float64(l.burst) {
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
