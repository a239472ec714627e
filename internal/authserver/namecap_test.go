package authserver

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// floodResult is what a flood of wrong guesses for one user name achieved.
type floodResult struct {
	perSecond []int // password checks started in each fake second
	requests  int
}

// maxIn returns the most checks in any n consecutive seconds.
func (r floodResult) maxIn(n int) int {
	best := 0
	for i := 0; i+n <= len(r.perSecond); i++ {
		sum := 0
		for _, c := range r.perSecond[i : i+n] {
			sum += c
		}
		best = max(best, sum)
	}
	return best
}

// perWindow returns the checks in each aligned window of n seconds.
func (r floodResult) perWindow(n int) []int {
	var out []int
	for i := 0; i < len(r.perSecond); i += n {
		sum := 0
		for _, c := range r.perSecond[i:min(i+n, len(r.perSecond))] {
			sum += c
		}
		out = append(out, sum)
	}
	return out
}

// flood sends, at every fake second for minutes fake minutes, burst
// parallel wrong guesses for name, each from a fresh IPv6 /64 (attack 5 of
// issue 9: an IPv6 /48 holds 65,536 of them). The clock stands still during
// a burst and sleeping returns at once, so nothing depends on wall-clock
// timing; checks counts bcrypt comparisons.
func flood(t *testing.T, s *Server, clock *fakeClock, checks *atomic.Int64, name string, minutes, burst int) floodResult {
	t.Helper()
	h := s.Handler()
	var res floodResult
	window := int(s.cfg.FailureWindow / time.Second)
	for sec := range minutes * window {
		before := checks.Load()
		guessBurst(t, h, name, fmt.Sprintf("%x", sec), burst)
		res.requests += burst
		res.perSecond = append(res.perSecond, int(checks.Load()-before))
		clock.Advance(time.Second)
	}
	return res
}

// guessBurst sends n parallel wrong guesses for name, each from its own
// IPv6 /64 under 2001:db8:<tag>::/48.
func guessBurst(t *testing.T, h http.Handler, name, tag string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		remote := fmt.Sprintf("[2001:db8:%s:%x::1]:443", tag, i)
		wg.Go(func() {
			code := doToken(t, h, http.MethodGet, remote, basic(name, fmt.Sprintf("guess-%s-%d", tag, i))).Code
			if code != http.StatusUnauthorized && code != http.StatusTooManyRequests {
				t.Errorf("guess from %s: status %d, want 401 or 429", remote, code)
			}
		})
	}
	wg.Wait()
}

// countingServer returns a test server whose bcrypt comparisons are
// counted and whose waits return at once without moving the clock.
func countingServer(t *testing.T) (*Server, *fakeClock, *atomic.Int64) {
	t.Helper()
	s, clock, _ := newTestServer(t, nil)
	checks := &atomic.Int64{}
	compare := s.compare
	s.compare = func(hash, pw []byte) error {
		checks.Add(1)
		return compare(hash, pw)
	}
	s.sleep = func(context.Context, time.Duration) error { return nil }
	return s, clock, checks
}

// Attack 5 of issue 9: failed logins per user name from all addresses
// together had no hard cap, since the per-user delay ran side by side for
// parallel requests. Now a name's password checks are serialised: whatever
// the number of addresses and parallel requests, each minute allows at
// most maxNameChecksPerWindow checks (19 with the defaults, see doc.go),
// and the real user still gets in once the flood pauses.
func TestNameCapAcrossAddresses(t *testing.T) {
	s, clock, checks := countingServer(t)
	const minutes, burst = 3, 10
	res := flood(t, s, clock, checks, "alice", minutes, burst)
	limit := maxNameChecksPerWindow
	perMinute := res.perWindow(60)
	t.Logf("%d guesses from %d addresses over %d minutes: password checks per minute %v, at most %d in any 60 s (cap %d)",
		res.requests, res.requests, minutes, perMinute, res.maxIn(60), limit)
	if got := res.maxIn(60); got > limit {
		t.Errorf("%d password checks for alice within 60 s, want at most %d", got, limit)
	}
	for i, n := range perMinute {
		if n < DefaultMaxFailures {
			t.Errorf("minute %d: %d password checks, want at least the %d free ones: the cap must slow guessing, not stop logins", i, n, DefaultMaxFailures)
		}
	}

	// The flood pauses; the queue drains within one maximal wait, and the
	// real alice, from an address she never used, gets in.
	clock.Advance(s.cfg.MaxUserSlowdown)
	var waited []time.Duration
	var mu sync.Mutex
	s.sleep = func(_ context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		waited = append(waited, d)
		return nil
	}
	rec := doToken(t, s.Handler(), http.MethodGet, "203.0.113.77:1", basic("alice", "alice-password"))
	if rec.Code != http.StatusOK {
		t.Fatalf("alice after the flood: status %d, want 200", rec.Code)
	}
	for _, d := range waited {
		if d > s.cfg.MaxUserSlowdown {
			t.Errorf("alice waited %s, want at most %s", d, s.cfg.MaxUserSlowdown)
		}
	}
}

// While a name's turns are taken by guesses from elsewhere, the real user
// at an address they logged in from before has a lane of their own: they
// wait at most one turn, while a new address gets 429 (Retry-After).
func TestNameCapRememberedAddressKeepsItsLane(t *testing.T) {
	s, clock, checks := countingServer(t)
	h := s.Handler()
	const home = "198.51.100.7:5000"
	if code := doToken(t, h, http.MethodGet, home, basic("alice", "alice-password")).Code; code != http.StatusOK {
		t.Fatalf("alice at home: %d", code)
	}
	flood(t, s, clock, checks, "alice", 1, 20)
	guessBurst(t, h, "alice", "ffff", 20) // alice's turns are taken now
	if rec := doToken(t, h, http.MethodGet, "203.0.113.99:1", basic("alice", "alice-password")); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("alice from a new address during the flood: status %d, Retry-After %q; want 429 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	var waited time.Duration
	s.sleep = func(_ context.Context, d time.Duration) error { waited = d; return nil }
	if code := doToken(t, h, http.MethodGet, "198.51.100.7:6000", basic("alice", "alice-password")).Code; code != http.StatusOK {
		t.Fatalf("alice at home during the flood: status %d, want 200", code)
	}
	if waited > s.cfg.MaxUserSlowdown {
		t.Errorf("alice at home waited %s, want at most %s", waited, s.cfg.MaxUserSlowdown)
	}
	// Guesses from her home address have a lane of their own, capped the
	// same way.
	s.sleep = func(context.Context, time.Duration) error { return nil }
	before := checks.Load()
	guesses := 2 * maxNameChecksPerWindow
	for i := range guesses {
		doToken(t, h, http.MethodGet, "198.51.100.7:7000", basic("alice", fmt.Sprintf("home-guess-%d", i)))
	}
	if n := checks.Load() - before; n > maxNameChecksPerWindow || n < DefaultMaxFailures {
		t.Errorf("%d of %d guesses from alice's home address checked, want %d to %d", n, guesses, DefaultMaxFailures, maxNameChecksPerWindow)
	}
}

// The gate's memory is bounded, and a name that exists keeps its lane when
// guesses for names that do not exist fill the table.
func TestNameGateBounded(t *testing.T) {
	clock := newFakeClock()
	g := newNameGate(2, time.Minute, time.Second, 5*time.Second, 3)
	for range 3 {
		if _, _, _, ok := g.reserve("alice", "ip:192.0.2.1", true, clock.Now()); !ok {
			t.Fatal("alice refused")
		}
	}
	for i := range 100 {
		g.reserve(fmt.Sprintf("ghost%d", i), "ip:192.0.2.1", false, clock.Now())
		clock.Advance(time.Millisecond)
	}
	if got := g.len(); got > 3 {
		t.Errorf("%d lanes, want at most 3", got)
	}
	// alice's lane survived: her next attempt is beyond the free ones.
	if _, wait, _, ok := g.reserve("alice", "ip:192.0.2.1", true, clock.Now()); !ok || wait == 0 {
		t.Errorf("alice's lane was evicted: wait %s, ok %v; want a turn", wait, ok)
	}
	// Once their windows are over and no turn is pending, lanes go.
	clock.Advance(2 * time.Minute)
	g.reserve("bob", "ip:192.0.2.1", true, clock.Now())
	if got := g.len(); got != 1 {
		t.Errorf("%d lanes after the window, want 1", got)
	}
}
