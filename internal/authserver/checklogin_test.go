package authserver

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// A login that waited for its turn is checked against the users file as it
// is after the wait: a user removed meanwhile gets no token.
func TestLoginRereadsUsersAfterItsTurn(t *testing.T) {
	s, clock, path := newTestServer(t, nil)
	h := s.Handler()
	for i := range DefaultMaxFailures {
		doToken(t, h, http.MethodGet, fmt.Sprintf("198.51.100.%d:1", i+1), basic("alice", "wrong"))
	}
	waited := false
	s.sleep = func(_ context.Context, d time.Duration) error {
		waited = true
		clock.Advance(d)
		return DeleteUser(path, "alice", nil, WithCost(bcrypt.MinCost))
	}
	rec := doToken(t, h, http.MethodGet, "203.0.113.5:1", basic("alice", "alice-password"))
	if !waited {
		t.Fatal("the login did not wait for its turn")
	}
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("alice, removed while her login waited: %d, want 401", rec.Code)
	}
}

// Only failures drive the per-name delay: correct logins, and logins
// whose client went away before its turn, are taken back.
func TestNameDelayCountsOnlyFailures(t *testing.T) {
	t.Run("correct logins", func(t *testing.T) {
		s, clock, _ := newTestServer(t, nil)
		rec := &sleepRecorder{clock: clock}
		s.sleep = rec.sleep
		h := s.Handler()
		for i := range 3 * DefaultMaxFailures {
			if code := doToken(t, h, http.MethodGet, "192.0.2.40:1", basic("alice", "alice-password")).Code; code != http.StatusOK {
				t.Fatalf("login %d: %d", i, code)
			}
		}
		if d := rec.all(); len(d) != 0 {
			t.Errorf("correct logins waited %v, want no wait", d)
		}
	})
	t.Run("clients gone while waiting", func(t *testing.T) {
		s, _, _ := newTestServer(t, nil)
		h := s.Handler()
		for i := range DefaultMaxFailures {
			doToken(t, h, http.MethodGet, fmt.Sprintf("198.51.100.%d:1", i+1), basic("alice", "wrong"))
		}
		var waits []time.Duration
		s.sleep = func(_ context.Context, d time.Duration) error {
			waits = append(waits, d)
			return context.Canceled
		}
		for i := range 3 {
			doToken(t, h, http.MethodGet, fmt.Sprintf("203.0.113.%d:1", i+1), basic("alice", "wrong"))
		}
		// Each gone client keeps its turn (1 s apart) but is not counted:
		// the step stays that of the first attempt beyond the free ones.
		if want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}; !slices.Equal(waits, want) {
			t.Errorf("waits %v, want %v", waits, want)
		}
	})
}

// Names that cannot be a user's are counted per address only: they never
// take room in the tables per name, which anyone could otherwise fill.
func TestInvalidNamesNotTrackedPerName(t *testing.T) {
	s, _, _ := newTestServer(t, nil)
	h := s.Handler()
	for _, name := range []string{"Not A Name", "UPPER", "caf\u00e9"} {
		if code := doToken(t, h, http.MethodGet, "192.0.2.41:1", basic(name, "guess")).Code; code != http.StatusUnauthorized {
			t.Fatalf("%q: %d, want 401", name, code)
		}
	}
	if n, p, a := s.byName.len(), s.byPair.len(), s.byAddr.len(); n != 0 || p != 0 || a != 1 {
		t.Errorf("lanes per name %d, pairs %d, addresses %d; want 0, 0, 1", n, p, a)
	}
}

// An attempt that waited its turn but got no password check, because no
// bcrypt slot was free or the users file became unusable during the wait,
// is taken back like a gone client's (nameGate: only failures drive the
// delay): the name's next attempt waits one step, not one more per
// unchecked attempt.
func TestNameCountUndoneWithoutCheck(t *testing.T) {
	tests := []struct {
		name string
		// spoil makes the next password check impossible; inWait says it
		// runs during the wait for the turn (the users file), not before.
		spoil  func(t *testing.T, s *Server, path string) (repair func())
		inWait bool
		want   int // the unchecked attempt's status
	}{
		{name: "no slot free in time", want: http.StatusTooManyRequests,
			spoil: func(t *testing.T, s *Server, _ string) func() {
				s.slots = newHashSlots(1, 1, maxWaitingPerAddr, time.Nanosecond)
				release, err := s.slots.acquire(t.Context(), "ip:192.0.2.250")
				if err != nil {
					t.Fatal(err)
				}
				return release
			}},
		{name: "too many checks waiting from the address", want: http.StatusTooManyRequests,
			spoil: func(t *testing.T, s *Server, _ string) func() {
				s.slots = newHashSlots(1, 1, 0, maxSlotWait)
				release, err := s.slots.acquire(t.Context(), "ip:192.0.2.250")
				if err != nil {
					t.Fatal(err)
				}
				return release
			}},
		{name: "users file unusable after the wait", want: http.StatusServiceUnavailable, inWait: true,
			spoil: func(t *testing.T, _ *Server, path string) func() {
				if err := os.Chmod(path, 0o620); err != nil {
					t.Fatal(err)
				}
				return func() {
					if err := os.Chmod(path, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}},
	}
	const unchecked = 3
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clock, path := newTestServer(t, nil)
			h := s.Handler()
			for i := range DefaultMaxFailures {
				if code := doToken(t, h, http.MethodGet, fmt.Sprintf("198.51.100.%d:1", i+1), basic("alice", "wrong")).Code; code != http.StatusUnauthorized {
					t.Fatalf("free failure %d: %d, want 401", i+1, code)
				}
			}
			var waits []time.Duration
			var repair func()
			spoiling := true
			s.sleep = func(ctx context.Context, d time.Duration) error {
				waits = append(waits, d)
				if tt.inWait && spoiling {
					repair = tt.spoil(t, s, path)
				}
				return clock.Sleep(ctx, d)
			}
			for i := range unchecked {
				if !tt.inWait {
					repair = tt.spoil(t, s, path)
				}
				code := doToken(t, h, http.MethodGet, fmt.Sprintf("203.0.113.%d:1", i+1), basic("alice", "wrong")).Code
				if repair == nil {
					t.Fatalf("attempt %d did not wait for its turn", i+1)
				}
				repair()
				repair = nil
				if code != tt.want {
					t.Fatalf("unchecked attempt %d: %d, want %d", i+1, code, tt.want)
				}
			}
			spoiling = false
			if code := doToken(t, h, http.MethodGet, "203.0.113.100:1", basic("alice", "wrong")).Code; code != http.StatusUnauthorized {
				t.Fatalf("checked attempt after the unchecked ones: %d, want 401", code)
			}
			// Each attempt waits one step after the previous turn (the
			// fake sleep lets the time pass): the unchecked ones did not
			// count.
			want := slices.Repeat([]time.Duration{DefaultUserSlowdown}, unchecked+1)
			if !slices.Equal(waits, want) {
				t.Errorf("waits %v, want %v", waits, want)
			}
		})
	}
}

// An empty password given with a name over HTTP Basic is credentials, and
// wrong: a failed login, checked and counted like any other (per address,
// per user name and address, per user name). The login form sent with an
// empty field is answered like a failure but never checked nor counted: a
// request without credentials is never counted (doc.go), and no user's
// password is empty (MinPasswordLen).
func TestEmptyPasswordCount(t *testing.T) {
	tests := []struct {
		name    string
		form    bool
		counted bool
	}{
		{name: "HTTP Basic", counted: true},
		{name: "login form", form: true},
	}
	const remote = "192.0.2.70:1"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clock, _ := newTestServer(t, nil)
			var compares atomic.Int64
			compare := s.compare
			s.compare = func(hash, pw []byte) error {
				compares.Add(1)
				return compare(hash, pw)
			}
			rec := &sleepRecorder{clock: clock}
			s.sleep = rec.sleep
			h := s.Handler()
			for i := range DefaultMaxFailures + 1 {
				var code int
				if tt.form {
					b := newBrowser(t, h, remote)
					code = b.submitLogin(b.loginForm(), "alice", "").Code
				} else {
					code = doToken(t, h, http.MethodGet, remote, basic("alice", "")).Code
				}
				want := http.StatusUnauthorized
				if tt.counted && i == DefaultMaxFailures {
					want = http.StatusTooManyRequests // the pair's sixth failure
				}
				if code != want {
					t.Fatalf("empty password %d: %d, want %d", i+1, code, want)
				}
			}
			if n := compares.Load(); (n > 0) != tt.counted {
				t.Errorf("%d bcrypt comparisons for empty passwords, want them checked: %v", n, tt.counted)
			}
			if queued := len(rec.all()) > 0; queued != tt.counted {
				t.Errorf("a login queued for its turn per user name: %v, want %v", queued, tt.counted)
			}
			want := http.StatusUnauthorized
			if tt.counted {
				want = http.StatusTooManyRequests
			}
			if code := doToken(t, h, http.MethodGet, remote, basic("alice", "wrong")).Code; code != want {
				t.Errorf("a wrong password after them from the same address: %d, want %d", code, want)
			}
		})
	}
}
