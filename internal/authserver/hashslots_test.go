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
	h := newHashSlots(3, 2, 50*time.Millisecond)
	ctx := t.Context()
	a1, err := h.acquire(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := h.acquire(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.acquire(ctx, "a"); !errors.Is(err, errAddrBusy) {
		t.Fatalf("a third check from a: %v, want errAddrBusy", err)
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
	if a3, err := h.acquire(ctx, "a"); !errors.Is(err, errNoSlot) {
		t.Fatalf("a (one under way) with no slot free: %v, want errNoSlot", err)
	} else if a3 != nil {
		t.Fatal("a release func with an error")
	}
	a2()
	b1()
	c1()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.byAddr) != 0 || len(h.slots) != 0 {
		t.Fatalf("after every release: byAddr %v, %d slots taken", h.byAddr, len(h.slots))
	}
}

// The probe's flood: one address sends many guesses at once (with names
// that are not users', so no per-name cap applies). Only its share of the
// bcrypt slots runs; the rest get 429 without a check, and an approver's
// login from elsewhere gets a slot at once. Logs never hold what was typed
// as an unknown name.
func TestLoginFloodFromOneAddress(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	s, _, _ := newTestServer(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	s.slots = newHashSlots(4, 2, time.Minute)
	release := make(chan struct{})
	var flooding atomic.Int32
	s.compare = func(hash, pw []byte) error {
		if strings.HasPrefix(string(pw), "guess-") {
			flooding.Add(1)
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
	counts := map[int]int{}
	for range n - 2 {
		select {
		case c := <-codes:
			counts[c]++
		case <-time.After(20 * time.Second):
			t.Fatalf("the flood's requests beyond its two checks were not answered at once: %v", counts)
		}
	}
	if counts[http.StatusTooManyRequests] != n-2 || flooding.Load() != 2 {
		t.Fatalf("answers %v, %d checks under way; want %d x 429 and 2 checks", counts, flooding.Load(), n-2)
	}
	if rec := doToken(t, s.Handler(), http.MethodGet, "198.51.100.1:5000", basic("alice", "alice-password")); rec.Code != http.StatusOK {
		t.Fatalf("alice's login during the flood: %d %s", rec.Code, rec.Body)
	}
	close(release)
	for range 2 {
		if c := <-codes; c != http.StatusUnauthorized {
			t.Errorf("a checked guess: %d, want 401", c)
		}
	}
	out := logs.String()
	if strings.Contains(out, "made-up-") || !strings.Contains(out, "user=\"(unknown ") {
		t.Errorf("logs name what was typed as an unknown user name, or do not stand for it:\n%s", out)
	}
	if !strings.Contains(out, "too many password checks under way from this client") {
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
