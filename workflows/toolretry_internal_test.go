package workflows

import (
	"testing"
	"time"
)

// A local tool's attempts and waits must all fit in its ScheduleToClose
// bound, which the SDK otherwise sets to one attempt's timeout.
func TestToolLocalWindow(t *testing.T) {
	def := DefaultToolRetry()
	tests := []struct {
		name  string
		retry *ToolRetry
		want  time.Duration
	}{
		{"recorded without a retry: the bound of before", nil, 0},
		{"out of bounds: the bound of before", &ToolRetry{MaxAttempts: 0, MaxInterval: time.Second}, 0},
		{"one attempt, no wait", &ToolRetry{MaxAttempts: 1, MaxInterval: time.Second}, time.Minute},
		// 10 attempts of a minute; 9 waits of at most 30 s, each given
		// MaxToolRetryAfter's minute.
		{"the default", &def, 19 * time.Minute},
		{"waits capped", &ToolRetry{MaxAttempts: 4, MaxInterval: 2 * time.Second}, 7 * time.Minute},
		{"waits past MaxToolRetryAfter", &ToolRetry{MaxAttempts: 4, MaxInterval: 5 * time.Minute}, 4*time.Minute + 3*time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := toolLocalWindow(tt.retry, time.Minute); got != tt.want {
				t.Errorf("toolLocalWindow = %s, want %s", got, tt.want)
			}
		})
	}
}

// A wait the tool's server asks for (a CMS's Retry-After, at most
// MaxToolRetryAfter) may be longer than the retry's own: a local tool's
// bound leaves room for it after every attempt, or the SDK gives up on the
// tool before its attempts are spent (the approval with them), as a bound
// counting the retry's waits only did after 9 of 10 attempts of 30 s
// each answered with Retry-After: 60.
func TestToolLocalWindowLeavesRoomForRetryAfter(t *testing.T) {
	for _, r := range []ToolRetry{DefaultToolRetry(), {MaxAttempts: 20, MaxInterval: time.Second}, {MaxAttempts: 4, MaxInterval: 5 * time.Minute}} {
		need, wait := time.Duration(r.MaxAttempts)*time.Minute, toolRetryFirstInterval
		for range r.MaxAttempts - 1 {
			need += max(min(wait, r.MaxInterval), MaxToolRetryAfter)
			wait *= 2
		}
		if got := toolLocalWindow(&r, time.Minute); got < need {
			t.Errorf("toolLocalWindow(%+v) = %s, want at least %s", r, got, need)
		}
	}
}
