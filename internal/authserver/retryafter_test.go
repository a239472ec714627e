package authserver

import (
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
