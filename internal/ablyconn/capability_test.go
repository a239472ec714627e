package ablyconn

import "testing"

func TestChannelCapability(t *testing.T) {
	tests := []struct {
		channel string
		ops     []string
		want    string
	}{
		{"ai:least-privilege", []string{"publish"}, `{"ai:least-privilege":["publish"]}`},
		{"ai:big-bad-any", []string{"subscribe", "history"}, `{"ai:big-bad-any":["subscribe","history"]}`},
	}
	for _, tc := range tests {
		if got, err := ChannelCapability(tc.channel, tc.ops...); err != nil || got != tc.want {
			t.Errorf("ChannelCapability(%q, %q) = %s, %v; want %s", tc.channel, tc.ops, got, err, tc.want)
		}
	}
}
