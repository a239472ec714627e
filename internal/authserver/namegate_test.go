package authserver

import (
	"fmt"
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
