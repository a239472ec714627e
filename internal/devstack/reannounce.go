package devstack

import (
	"context"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/reannounce"
	"github.com/hitl/durable-approvals/workflows"
)

// maxReannounceRuns bounds the runs re-announced at one start.
const maxReannounceRuns = 1000

// reannounce re-publishes the pending approvals through the local Ably
// server as the agent: it keeps its history in memory, so after a restart
// of the stack an approver would not see requests published before it,
// nor until the worker's keeper sweeps. Queries need the worker, so this
// runs after it polls. Failures are reported, not fatal.
func (st *Stack) reannounce(ctx context.Context) (int, error) {
	conn := ablyconn.Config{APIKey: st.secrets.AblyKey, Endpoint: st.cfg.AblyEndpoint()}
	pub, err := activities.NewAblyPublisher(conn, workflows.DefaultAgentClientID)
	if err != nil {
		return 0, err
	}
	tp := reannounce.Temporal{Client: st.Temporal, Namespace: st.cfg.Namespace}
	return reannounce.All(ctx, tp, conn.MessageIDKey(), st.cfg.Channel, pub, maxReannounceRuns)
}
