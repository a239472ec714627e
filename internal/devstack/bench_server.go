package devstack

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/hitl/durable-approvals/workflows"
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

// recentPoller is how long after its last poll a poller of the agent's task
// queue counts as still there: a live worker polls again at least every
// 70 s (the SDK's long-poll timeout).
const recentPoller = 90 * time.Second

// checkBenchServer checks a server the bench did not start before the stack
// uses it. The namespace must exist: the bench creates none on someone
// else's server. And no other worker may poll the agent's task queue
// there: it would take some of the bench's runs, which would then wait for
// approval requests on another Ably until the bench's timeout.
func checkBenchServer(ctx context.Context, cfg Config) error {
	tc, err := dialTemporal(ctx, cfg, nil, 30*time.Second)
	if err != nil {
		return err
	}
	defer tc.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: cfg.Namespace})
	var notFound *serviceerror.NamespaceNotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("namespace %q does not exist on %s: create one for the bench first, e.g. "+
			"`temporal operator namespace create --address %s --namespace %s` (a new namespace takes a few seconds to be usable)",
			cfg.Namespace, cfg.TemporalAddress(), cfg.TemporalAddress(), cfg.Namespace)
	}
	if err != nil {
		return fmt.Errorf("describe namespace %s: %w", cfg.Namespace, err)
	}
	pollers := map[string]bool{}
	for _, typ := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		resp, err := tc.DescribeTaskQueue(ctx, workflows.TaskQueue, typ)
		if err != nil {
			return fmt.Errorf("describe task queue %s: %w", workflows.TaskQueue, err)
		}
		for _, p := range resp.GetPollers() {
			if t := p.GetLastAccessTime(); t != nil && time.Since(t.AsTime()) < recentPoller {
				pollers[p.GetIdentity()] = true
			}
		}
	}
	if len(pollers) == 0 {
		return nil
	}
	ids := make([]string, 0, len(pollers))
	for id := range pollers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return fmt.Errorf("task queue %s in namespace %s was polled in the last %s by %s: a worker that still runs there "+
		"would take some of the bench's runs; give the bench a namespace nothing else uses "+
		"(the pollers of an earlier bench run drop out of this check %s after it ended)",
		workflows.TaskQueue, cfg.Namespace, recentPoller, strings.Join(ids, ", "), recentPoller)
}
