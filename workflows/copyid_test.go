package workflows

import (
	"testing"
	"time"
)

func TestCopyMessageID(t *testing.T) {
	key := []byte("0123456789abcdef")
	orig := AgentMessageID(key, "wf-1", "call_1", "request")
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	id := CopyMessageID(key, orig, at)
	if err := ValidateMessageID(id); err != nil || id == orig {
		t.Fatalf("CopyMessageID = %q (%v), want a valid id other than the original %q", id, err, orig)
	}
	tests := []struct {
		name string
		key  []byte
		id   string
		at   time.Time
		same bool
	}{
		{"same minute, other zone", key, orig, at.Add(59 * time.Second).In(time.FixedZone("X", 3600)), true},
		{"next minute", key, orig, at.Add(time.Minute), false},
		{"another original", key, AgentMessageID(key, "wf-1", "call_1", "request-1"), at, false},
		{"another key", []byte("fedcba9876543210"), orig, at, false},
	}
	for _, tc := range tests {
		if got := CopyMessageID(tc.key, tc.id, tc.at); (got == id) != tc.same {
			t.Errorf("%s: %q, same as %q: %v, want %v", tc.name, got, id, got == id, tc.same)
		}
	}
}
