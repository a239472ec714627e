package authserver

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// A name's window ends: once it is over, the name's first attempts are
// free again.
func TestNameGateWindowEnds(t *testing.T) {
	clock := newFakeClock()
	g := newNameGate(2, time.Minute, time.Second, 5*time.Second, 100)
	for range 3 {
		g.reserve("alice", "ip:192.0.2.1", true, clock.Now())
	}
	if _, wait, _, ok := g.reserve("alice", "ip:192.0.2.1", true, clock.Now()); !ok || wait == 0 {
		t.Fatalf("fourth attempt in the window: wait %s, ok %v; want a turn", wait, ok)
	}
	clock.Advance(time.Minute + 5*time.Second) // past the window and every turn
	for i := range 2 {
		if _, wait, _, ok := g.reserve("alice", "ip:192.0.2.1", true, clock.Now()); !ok || wait != 0 {
			t.Fatalf("attempt %d of a new window: wait %s, ok %v; want a free check", i+1, wait, ok)
		}
	}
}

// The addresses a name logged in from are remembered for rememberFor, at
// most rememberedAddrs of them, the newest; logging in again from one
// does not take a second place.
func TestNameGateRemembersAddresses(t *testing.T) {
	clock := newFakeClock()
	g := newNameGate(5, time.Minute, time.Second, 5*time.Second, 100)
	addr := func(i int) string { return fmt.Sprintf("ip:192.0.2.%d", i) }
	remembered := func(a string) bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.isRemembered("alice", a, clock.Now())
	}

	g.remember("alice", addr(0), clock.Now())
	for range 2 * rememberedAddrs {
		clock.Advance(time.Second)
		g.remember("alice", addr(1), clock.Now())
	}
	if !remembered(addr(0)) || !remembered(addr(1)) {
		t.Fatal("one address logging in again pushed another out")
	}
	if remembered(addr(2)) || g.isRemembered("bob", addr(0), clock.Now()) {
		t.Fatal("an address or a name never logged in from is remembered")
	}

	for i := range 2 * rememberedAddrs {
		clock.Advance(time.Second)
		g.remember("alice", addr(10+i), clock.Now())
	}
	if n := len(g.remembered["alice"]); n != rememberedAddrs {
		t.Errorf("%d addresses remembered, want %d", n, rememberedAddrs)
	}
	if remembered(addr(10+rememberedAddrs-1)) || !remembered(addr(10+rememberedAddrs)) || !remembered(addr(10+2*rememberedAddrs-1)) {
		t.Error("want the newest addresses remembered and the older ones forgotten")
	}

	clock.Advance(rememberFor)
	if remembered(addr(10 + 2*rememberedAddrs - 1)) {
		t.Errorf("an address is still remembered %s after its login", rememberFor)
	}
}

// When the gate is full, only idle lanes (their window over and no turn
// pending) go as idle; a lane whose window is over but that still has a
// turn handed out is kept ahead of a name not in the users file, so that
// its next attempts queue behind that turn. Without idle lanes the oldest
// lane of a name not in the users file goes, then the oldest lane.
func TestNameGateEvictsOnlyIdleLanes(t *testing.T) {
	type attempts struct {
		at     time.Duration // since the start
		name   string
		exists bool
		n      int
	}
	tests := []struct {
		name     string
		attempts []attempts // into a gate of 2 lanes, 2 free attempts per window
		kept     []string   // the names with a lane afterwards
		lastWait time.Duration
	}{
		{"turn pending past its window", []attempts{
			{0, "alice", true, 2},
			{59 * time.Second, "alice", true, 2}, // turns at 60 s and 62 s
			{59*time.Second + 500*time.Millisecond, "ghost", false, 1},
			{60 * time.Second, "bob", true, 1}, // alice's window is over, her turn at 62 s is not
			// Her pending turn still spaces her attempts: in the new
			// window, the first beyond the free ones queues one step
			// behind it (63 s), not one step after now (61 s).
			{60 * time.Second, "alice", true, 3},
		}, []string{"alice", "bob"}, 3 * time.Second},
		{"window over, no turn pending", []attempts{
			{0, "alice", true, 3}, // a turn at 1 s
			{59*time.Second + 500*time.Millisecond, "ghost", false, 1},
			{61 * time.Second, "bob", true, 1},
		}, []string{"bob", "ghost"}, 0},
		{"window running, turn passed", []attempts{
			{0, "alice", true, 3}, // a turn at 1 s
			{30 * time.Second, "ghost", false, 1},
			{31 * time.Second, "bob", true, 1},
		}, []string{"alice", "bob"}, 0},
		{"no idle lane, no ghost: the oldest goes", []attempts{
			{0, "alice", true, 3},
			{10 * time.Second, "carol", true, 1},
			{20 * time.Second, "bob", true, 1},
		}, []string{"bob", "carol"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := newFakeClock().Now()
			g := newNameGate(2, time.Minute, time.Second, 5*time.Second, 2)
			var wait time.Duration
			for _, a := range tt.attempts {
				for range a.n {
					var ok bool
					if _, wait, _, ok = g.reserve(a.name, "ip:192.0.2.1", a.exists, start.Add(a.at)); !ok {
						t.Fatalf("%s at %s refused", a.name, a.at)
					}
				}
			}
			if wait != tt.lastWait {
				t.Errorf("the last attempt waits %s, want %s", wait, tt.lastWait)
			}
			var kept []string
			for k := range g.lanes {
				kept = append(kept, k.name)
			}
			slices.Sort(kept)
			if !slices.Equal(kept, tt.kept) {
				t.Errorf("lanes of %v, want %v", kept, tt.kept)
			}
		})
	}
}
