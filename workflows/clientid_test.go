package workflows

import (
	"strings"
	"testing"
)

// A trusted program's clientId is one Ably clientId approvers' clients
// can match: not empty, not Ably's wildcard, printable, within the
// length an approver's clientId may have.
func TestValidateTrustedClientID(t *testing.T) {
	tests := []struct {
		id, wantErr string
	}{
		{DefaultAgentClientID, ""},
		{DefaultBridgeClientID, ""},
		{"my agent", ""},
		{strings.Repeat("a", MaxClientIDLen), ""},
		{"", "is empty"},
		{"*", `"*" is Ably's wildcard`},
		{strings.Repeat("a", MaxClientIDLen+1), "longer than 128 bytes"},
		{"agent\x1b[2J", "unprintable character U+001B"},
		{"agent\xff", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			err := ValidateTrustedClientID("HITL_AGENT_CLIENT_ID", tt.id)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateTrustedClientID(%q) = %v", tt.id, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "HITL_AGENT_CLIENT_ID") {
				t.Fatalf("ValidateTrustedClientID(%q) = %v, want an error naming HITL_AGENT_CLIENT_ID with %q", tt.id, err, tt.wantErr)
			}
		})
	}
}
