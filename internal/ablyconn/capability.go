package ablyconn

import (
	"encoding/json"
	"fmt"
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
