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
		// 10 attempts of a minute; waits 1, 2, 4, 8, 16 s, then 30 s four times.
		{"the default", &def, 10*time.Minute + 151*time.Second},
		{"waits capped", &ToolRetry{MaxAttempts: 4, MaxInterval: 2 * time.Second}, 4*time.Minute + 5*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := toolLocalWindow(tt.retry, time.Minute); got != tt.want {
				t.Errorf("toolLocalWindow = %s, want %s", got, tt.want)
			}
		})
	}
}
