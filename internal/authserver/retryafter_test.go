package authserver

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// Retry-After is rounded up: a client that waits what it says is never
// early, and it says at least 1.
func TestRetrySeconds(t *testing.T) {
	tests := []struct {
		wait time.Duration
		want int
	}{
		{0, 1},
		{-time.Second, 1},
		{time.Millisecond, 1},
		{time.Second, 1},
		{1500 * time.Millisecond, 2},
		{59*time.Second + time.Millisecond, 60},
		{time.Minute, 60},
	}
	for _, tt := range tests {
		if got := retrySeconds(tt.wait); got != tt.want {
			t.Errorf("retrySeconds(%s) = %d, want %d", tt.wait, got, tt.want)
		}
	}
}

// The per-name queue's Retry-After is how long until a turn may be had
// (nameGate.reserve): the login's turn is more than MaxUserSlowdown away,
// and Retry-After is the excess, in whole seconds rounded up. Retrying a
// second earlier is refused again; retrying after it gets a turn.
func TestNameQueueRetryAfter(t *testing.T) {
	tests := []struct {
		name          string
		step, maxStep time.Duration
		queued        int // failures that get a turn beyond the free ones
		want          int // Retry-After of the next one
	}{
		// Turns 1 s, 3 s; the next would be at 6 s, 1 s beyond 5 s.
		{"defaults", DefaultUserSlowdown, DefaultMaxUserSlowdown, 2, 1},
		// Turns 0.5, 1.5, 3 and 5 s; the next would be at 7.5 s, 2.5 s
		// beyond 5 s.
		{"long queue", 500 * time.Millisecond, 5 * time.Second, 4, 3},
		// Turns 0.7 s, 2.1 s is 0.1 s beyond 2 s: rounded up.
		{"fraction of a second", 700 * time.Millisecond, 2 * time.Second, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clock, _ := newTestServer(t, func(c *Config) {
				c.UserSlowdown, c.MaxUserSlowdown = tt.step, tt.maxStep
			})
			// The clock stands still while a login waits: the turns are
			// all handed out at the same instant.
			s.sleep = func(context.Context, time.Duration) error { return nil }
			h := s.Handler()
			attempt := 0
			login := func(password string) *httptest.ResponseRecorder {
				attempt++
				return doToken(t, h, http.MethodGet, fmt.Sprintf("198.51.100.%d:1", attempt), basic("alice", password))
			}
			for i := range DefaultMaxFailures + tt.queued {
				if code := login("wrong").Code; code != http.StatusUnauthorized {
					t.Fatalf("failure %d: %d, want 401", i+1, code)
				}
			}
			rec := login("wrong")
			if rec.Code != http.StatusTooManyRequests {
				t.Fatalf("beyond the queue: %d, want 429", rec.Code)
			}
			if got := rec.Header().Get("Retry-After"); got != strconv.Itoa(tt.want) {
				t.Fatalf("Retry-After %q, want %d", got, tt.want)
			}
			if tt.want > 1 {
				clock.Advance(time.Duration(tt.want-1) * time.Second)
				if rec := login("alice-password"); rec.Code != http.StatusTooManyRequests {
					t.Fatalf("%d s later, a second before Retry-After: %d, want 429", tt.want-1, rec.Code)
				}
				clock.Advance(time.Second)
			} else {
				clock.Advance(time.Duration(tt.want) * time.Second)
			}
			if rec := login("alice-password"); rec.Code != http.StatusOK {
				t.Fatalf("after Retry-After: %d, want 200", rec.Code)
			}
		})
	}
}
