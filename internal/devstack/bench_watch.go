package devstack

import (
	"context"
	"fmt"
	"sync"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/approvercli"
	"github.com/hitl/durable-approvals/workflows"
)

// requestWatch collects, from the channel, the approval-requests of the
// bench's runs, read the way the approver CLI reads them
// (approvercli.Pending: only the agent's, well formed, digest checked).
type requestWatch struct {
	mu      sync.Mutex
	pending *approvercli.Pending
	want    map[string]bool                // workflow ids of the bench's runs
	got     map[string]approvercli.Request // by workflow id
	changed chan struct{}                  // receives (without blocking) after each new request
	unsub   func()
}

// watchRequests subscribes on ch (attached) to the requests of the runs
// ids. Subscribe before the runs start.
func watchRequests(ctx context.Context, ch *ably.RealtimeChannel, ids []string) (*requestWatch, error) {
	w := newRequestWatch(ids)
	unsub, err := ch.SubscribeAll(ctx, w.apply)
	if err != nil {
		return nil, fmt.Errorf("subscribe to the approval requests: %w", err)
	}
	w.unsub = unsub
	return w, nil
}

// newRequestWatch is a watch of the requests of the runs ids, fed by apply.
func newRequestWatch(ids []string) *requestWatch {
	w := &requestWatch{
		pending: approvercli.NewPending(workflows.DefaultAgentClientID, nil),
		want:    make(map[string]bool, len(ids)),
		got:     make(map[string]approvercli.Request, len(ids)),
		changed: make(chan struct{}, 1),
	}
	for _, id := range ids {
		w.want[id] = true
	}
	return w
}

// apply takes the first request of each of the runs from the channel.
func (w *requestWatch) apply(m *ably.Message) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ev := w.pending.Apply(m)
	if ev.Kind != approvercli.EventRequest || !w.want[ev.Request.WorkflowID] {
		return
	}
	if _, dup := w.got[ev.Request.WorkflowID]; dup {
		return
	}
	w.got[ev.Request.WorkflowID] = ev.Request
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// count is how many of the runs' requests arrived.
func (w *requestWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.got)
}

// wait blocks until every run's request arrived, or ctx is done (the
// error says how many arrived).
func (w *requestWatch) wait(ctx context.Context) error {
	for {
		n := w.count()
		if n == len(w.want) {
			return nil
		}
		select {
		case <-w.changed:
		case <-ctx.Done():
			return fmt.Errorf("%d of %d approval requests on the channel: %w", n, len(w.want), ctx.Err())
		}
	}
}

// requests returns the request of each run, in the order of ids.
func (w *requestWatch) requests(ids []string) []approvercli.Request {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]approvercli.Request, len(ids))
	for i, id := range ids {
		out[i] = w.got[id]
	}
	return out
}

func (w *requestWatch) close() { w.unsub() }
