package testutil

import (
	"strings"
	"testing"
)

// ListedDigest returns the Digest that `approver list` printed for the
// request with tool-call id toolCallID, as an approver copies it for
// `approver approve --digest`.
func ListedDigest(t testing.TB, list, toolCallID string) string {
	t.Helper()
	for _, block := range strings.Split(list, "APPROVAL REQUEST") {
		if !strings.Contains(block, "Tool call ID:  "+toolCallID+"\n") {
			continue
		}
		for _, line := range strings.Split(block, "\n") {
			if d, ok := strings.CutPrefix(line, "Digest:"); ok {
				return strings.TrimSpace(d)
			}
		}
	}
	t.Fatalf("no digest listed for %s:\n%s", toolCallID, list)
	return ""
}
