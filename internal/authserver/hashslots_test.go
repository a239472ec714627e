package authserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hitl/durable-approvals/internal/testutil"
)

func TestHashSlots(t *testing.T) {
	h := newHashSlots(3, 2, 8, 50*time.Millisecond)
	ctx := t.Context()
	a1, err := h.acquire(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := h.acquire(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	// a has its share: its third check waits although a slot is free.
	if _, err := h.acquire(ctx, "a"); !errors.Is(err, errNoSlot) {
		t.Fatalf("a third check from a: %v, want errNoSlot after the wait", err)
	}
	b1, err := h.acquire(ctx, "b")
	if err != nil {
		t.Fatalf("b while a holds two of three slots: %v", err)
	}
	// Every slot is taken: c waits, then gives up.
	if _, err := h.acquire(ctx, "c"); !errors.Is(err, errNoSlot) {
		t.Fatalf("c with no slot free: %v, want errNoSlot", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := h.acquire(cancelled, "c"); !errors.Is(err, context.Canceled) {
		t.Fatalf("c with its context done: %v", err)
	}
	a1()
	c1, err := h.acquire(ctx, "c")
	if err != nil {
		t.Fatalf("c once a slot is free: %v", err)
	}
	a2()
	b1()
	c1()
	h.mu.Lock()
	if len(h.byAddr) != 0 || h.running != 0 {
		t.Fatalf("after every release: byAddr %v, %d running", h.byAddr, h.running)
	}
	h.mu.Unlock()
}

// A check that waits gets the slot its address frees; beyond maxWaiting
// waiting from one address, a check is refused at once.
func TestHashSlotsWaiting(t *testing.T) {
	h := newHashSlots(2, 1, 1, time.Minute)
	ctx := t.Context()
	x1, err := h.acquire(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	var x2 func()
	go func() {
		var err error
		x2, err = h.acquire(ctx, "x")
		got <- err
	}()
	testutil.Eventually(t, 10*time.Second, "x's second check waiting", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.byAddr["x"] != nil && h.byAddr["x"].waiting == 1
	})
	start := time.Now()
	if _, err := h.acquire(ctx, "x"); !errors.Is(err, errAddrBusy) || time.Since(start) > 5*time.Second {
		t.Fatalf("a third check from x: %v after %s, want errAddrBusy at once", err, time.Since(start))
	}
	x1()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("the waiting check: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting check did not get the freed slot")
	}
	x2()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.byAddr) != 0 || h.running != 0 {
		t.Fatalf("after every release: byAddr %v, %d running", h.byAddr, h.running)
	}
}

// Approvers behind one address (a NAT; the bench's approvers) logging in
// at once with correct passwords all get their tokens, taking turns, also
// when the address may run one check at a time (a 1-CPU machine).
func TestCorrectPasswordsFromOneAddress(t *testing.T) {
	s, _, _ := newTestServer(t, nil)
	s.slots = newHashSlots(2, 1, maxWaitingPerAddr, maxSlotWait)
	const n = 8
	codes := make(chan int, n)
	for i := range n {
		go func() {
			u := testUsers[i%len(testUsers)]
			codes <- doToken(t, s.Handler(), http.MethodGet, "127.0.0.1:"+strconv.Itoa(2000+i), basic(u.name, u.password)).Code
		}()
	}
	for range n {
		select {
		case c := <-codes:
			if c != http.StatusOK {
				t.Errorf("a correct password from the shared address: %d, want 200", c)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("logins did not finish")
		}
	}
}

// The probe's flood: one address sends many guesses at once (with names
// that are not users', so no per-name cap applies). Only its share of the
// bcrypt slots runs at a time, the rest wait their turn, and an approver's
// login from elsewhere gets a slot at once. Logs never hold what was typed
// as an unknown name.
func TestLoginFloodFromOneAddress(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	s, _, _ := newTestServer(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	s.slots = newHashSlots(4, 2, 20, time.Minute)
	release := make(chan struct{})
	var flooding, most atomic.Int32
	s.compare = func(hash, pw []byte) error {
		if strings.HasPrefix(string(pw), "guess-") {
			now := flooding.Add(1)
			defer flooding.Add(-1)
			for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
			}
			<-release
		}
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	const n = 30
	codes := make(chan int, n)
	for i := range n {
		go func() {
			// Valid names that are nobody's, each new: the per-name
			// cap never binds.
			name := "made-up-" + strconv.Itoa(i)
			codes <- doToken(t, s.Handler(), http.MethodGet, "192.0.2.7:"+strconv.Itoa(1000+i), basic(name, "guess-"+strconv.Itoa(i))).Code
		}()
	}
	// 2 checks run, 20 wait, 8 are refused at once.
	counts := map[int]int{}
	for range n - 22 {
		select {
		case c := <-codes:
			counts[c]++
		case <-time.After(20 * time.Second):
			t.Fatalf("the flood's requests beyond its checks running and waiting were not answered at once: %v", counts)
		}
	}
	if counts[http.StatusTooManyRequests] != n-22 {
		t.Fatalf("answers %v, want %d x 429", counts, n-22)
	}
	testutil.Eventually(t, 20*time.Second, "two of the flood's checks running", func() bool { return flooding.Load() == 2 })
	if rec := doToken(t, s.Handler(), http.MethodGet, "198.51.100.1:5000", basic("alice", "alice-password")); rec.Code != http.StatusOK {
		t.Fatalf("alice's login during the flood: %d %s", rec.Code, rec.Body)
	}
	close(release)
	for range 22 {
		select {
		case c := <-codes:
			if c != http.StatusUnauthorized && c != http.StatusTooManyRequests {
				t.Errorf("a checked guess: %d, want 401 or 429", c)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the waiting guesses were not answered")
		}
	}
	if m := most.Load(); m != 2 {
		t.Errorf("at most %d of the flood's checks ran at once, want 2", m)
	}
	out := logs.String()
	if strings.Contains(out, "made-up-") || !strings.Contains(out, "user=\"(unknown ") {
		t.Errorf("logs name what was typed as an unknown user name, or do not stand for it:\n%s", out)
	}
	if !strings.Contains(out, "too many password checks waiting from this client") {
		t.Errorf("logs do not say why the flood was refused:\n%s", out)
	}
}

func TestLogName(t *testing.T) {
	s, _, _ := newTestServer(t, nil)
	if got := s.logName("alice", true, true); got != "alice" {
		t.Errorf("a user's name: %q", got)
	}
	if got := s.logName("Not Valid", false, false); got != "(invalid)" {
		t.Errorf("an invalid name: %q", got)
	}
	a, b := s.logName("correct-horse-battery-9", false, true), s.logName("correct-horse-battery-9", false, true)
	if a != b || strings.Contains(a, "horse") || !strings.HasPrefix(a, "(unknown ") {
		t.Errorf("an unknown name: %q then %q, want the same stand-in without the name", a, b)
	}
	if c := s.logName("other-name", false, true); c == a {
		t.Errorf("two unknown names log as the same %q", c)
	}
}

// One address gets at most half the slots, so that approvers elsewhere
// always find one free.
func TestHashSlotsFor(t *testing.T) {
	tests := []struct{ procs, n, perAddr int }{
		{1, 2, 1},
		{2, 4, 2},
		{3, 6, 3},
		{8, 16, 8},
	}
	for _, tt := range tests {
		n, perAddr, maxWaiting, wait := hashSlotsFor(tt.procs)
		if n != tt.n || perAddr != tt.perAddr || maxWaiting != maxWaitingPerAddr || wait != maxSlotWait {
			t.Errorf("hashSlotsFor(%d) = %d, %d, %d, %s; want %d, %d, %d, %s", tt.procs, n, perAddr, maxWaiting, wait, tt.n, tt.perAddr, maxWaitingPerAddr, maxSlotWait)
		}
	}
}
