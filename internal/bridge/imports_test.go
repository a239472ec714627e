package bridge

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestImportBoundaries keeps the trust boundaries between packages in the
// build graph: the bridge (trusted: it signs decisions) never depends on
// config (the policy is the worker's) or on the untrusted approver CLI;
// the CLI never depends on the bridge, its signing keys or the agent's
// re-announcer; the re-announcer never on the CLI or the bridge. Test code
// counts too (go list -test): the CLI's tests check its messages against
// the wire contract of the workflows package, not against the bridge's
// decoder, and the e2e package, which runs both, shows that the bridge
// accepts them.
func TestImportBoundaries(t *testing.T) {
	const mod = "github.com/hitl/durable-approvals/"
	tests := []struct {
		pkg       string
		forbidden []string
	}{
		{"internal/bridge", []string{"config", "internal/approvercli", "worker", "activities"}},
		{"internal/approvercli", []string{"internal/bridge", "internal/signing", "internal/reannounce", "worker", "activities"}},
		// The keeper publishes as the agent, with its key.
		{"internal/reannounce", []string{"internal/approvercli", "internal/bridge", "config"}},
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, "go", "list", "-deps", "-test", "-f", "{{.ImportPath}}", mod+tt.pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps -test %s: %v", tt.pkg, err)
			}
			deps := map[string]bool{}
			for _, line := range strings.Fields(string(out)) {
				deps[strings.TrimPrefix(line, mod)] = true
			}
			if !deps[tt.pkg] {
				t.Fatalf("go list -deps -test %s did not list the package itself:\n%s", tt.pkg, out)
			}
			for _, f := range tt.forbidden {
				if deps[f] {
					t.Errorf("%s depends on %s", tt.pkg, f)
				}
			}
		})
	}
}
