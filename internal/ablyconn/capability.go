package ablyconn

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// ChannelCapability returns the x-ably-capability JSON that allows ops
// (such as "publish", "history", "subscribe") on channel and nothing else:
// the least a trusted program's token needs.
func ChannelCapability(channel string, ops ...string) (string, error) {
	b, err := json.Marshal(map[string][]string{channel: ops})
	if err != nil {
		return "", fmt.Errorf("ably capability: %w", err)
	}
	return string(b), nil
}

// ValidateChannel checks that channel is one plain Ably channel name: a
// wildcard, a qualifier such as "[meta]" or a control character would give
// approvers more than the approvals channel.
func ValidateChannel(channel string) error {
	switch {
	case channel == "" || len(channel) > 256:
		return fmt.Errorf("channel %q: want 1 to 256 bytes", channel)
	case strings.Contains(channel, "*"):
		return fmt.Errorf("channel %q: wildcards are not allowed", channel)
	case strings.HasPrefix(channel, "[") || strings.HasPrefix(channel, ":"):
		return fmt.Errorf("channel %q: qualifiers are not allowed", channel)
	case strings.IndexFunc(channel, unicode.IsControl) >= 0:
		return fmt.Errorf("channel %q: control characters are not allowed", channel)
	}
	return nil
}
