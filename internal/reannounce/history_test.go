package reannounce

import (
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
)

func TestAblyHistoryNewest(t *testing.T) {
	r := newKeeperRig(t)
	r.filler(t, 150) // "message 0" to "message 149"
	tests := []struct {
		name      string
		max       int
		stopAfter int // visit returns false at this visit; 0: never
		want      int
	}{
		{"bounded across pages", 120, 0, 120},
		{"bounded within a page", 7, 0, 7},
		{"all of it", 1000, 0, 150},
		{"stopped by visit", 1000, 3, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := r.hist.Newest(t.Context(), time.Now().Add(-time.Hour), tc.max, func(m *ably.Message) bool {
				got = append(got, m.Data.(string))
				return len(got) != tc.stopAfter
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Fatalf("visited %d messages, want %d", len(got), tc.want)
			}
			if got[0] != "message 149" {
				t.Errorf("first visited %q, want the newest", got[0])
			}
		})
	}
	// Nothing since a time after every message.
	n := 0
	if err := r.hist.Newest(t.Context(), time.Now().Add(time.Minute), 100, func(*ably.Message) bool { n++; return true }); err != nil || n != 0 {
		t.Errorf("since the future: %d messages, %v", n, err)
	}
}
