package devstack

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// TemporalServer is the server a bench run measured on, as it describes
// itself (GetClusterInfo).
type TemporalServer struct {
	// External is set when the bench used a server it did not start
	// (-temporal-address); otherwise it ran the pinned CLI's dev server.
	External    bool   `json:"external"`
	Address     string `json:"address"`
	Namespace   string `json:"namespace"`
	Version     string `json:"version,omitempty"`
	Persistence string `json:"persistence,omitempty"`
	Visibility  string `json:"visibility,omitempty"`
}

// String is the server's line in the markdown report.
func (s TemporalServer) String() string {
	what := "the Temporal CLI's dev server"
	if s.External {
		what = fmt.Sprintf("the Temporal server at %s, namespace %s", s.Address, s.Namespace)
	}
	var about []string
	if s.Version != "" {
		about = append(about, "server "+s.Version)
	}
	if s.Persistence != "" {
		about = append(about, "persistence "+s.Persistence)
	}
	if s.Visibility != "" {
		about = append(about, "visibility "+s.Visibility)
	}
	if len(about) == 0 {
		return what
	}
	return what + " (" + strings.Join(about, ", ") + ")"
}

// describeServer asks the server the stack uses what it is. A server that
// does not say is still named by its address.
func describeServer(ctx context.Context, tc client.Client, cfg Config) TemporalServer {
	s := TemporalServer{External: cfg.TemporalServer != "", Address: cfg.TemporalAddress(), Namespace: cfg.Namespace}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	info, err := tc.WorkflowService().GetClusterInfo(ctx, &workflowservice.GetClusterInfoRequest{})
	if err != nil {
		return s
	}
	s.Version, s.Persistence, s.Visibility = info.GetServerVersion(), info.GetPersistenceStore(), info.GetVisibilityStore()
	return s
}
