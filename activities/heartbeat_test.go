package activities

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/hitl/durable-approvals/workflows"
)

// waitingModel answers only once the activity has heartbeated while it
// waits (the SDK sends the first heartbeat at once and throttles the
// next ones to most of the heartbeat timeout), and fails otherwise.
type waitingModel struct{ beats <-chan struct{} }

func (m waitingModel) Respond(ctx context.Context, _ workflows.ModelRequest, _ []Tool) (workflows.ModelResponse, error) {
	bound := time.After(10 * time.Second)
	select {
	case <-m.beats:
	case <-ctx.Done():
		return workflows.ModelResponse{}, errors.New("the call ended before a heartbeat")
	case <-bound:
		return workflows.ModelResponse{}, errors.New("no heartbeat within 10 s while the model answered")
	}
	return workflows.ModelResponse{Text: "done"}, nil
}

// TestCallModelHeartbeats: CallModel heartbeats while the model answers,
// so that Temporal tries a call held by a worker that died or froze again
// after workflows.ModelHeartbeatTimeout, not after the call's 2 minutes.
func TestCallModelHeartbeats(t *testing.T) {
	beats := make(chan struct{}, 100)
	reg, _ := testRegistry(t)
	d, _ := withTrust(t, Deps{Model: waitingModel{beats}, Tools: reg, Publisher: nopPublisher{t}, ModelHeartbeatEvery: 10 * time.Millisecond})
	a, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.SetTestTimeout(10 * time.Second)
	env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) {
		select {
		case beats <- struct{}{}:
		default:
		}
	})
	env.RegisterActivity(a)
	v, err := env.ExecuteActivity(workflows.ActivityCallModel, workflows.ModelRequest{WorkflowID: "wf-beat", Turn: 1})
	if err != nil {
		t.Fatalf("CallModel: %v", err)
	}
	var res workflows.ModelResponse
	if err := v.Get(&res); err != nil || res.Text != "done" {
		t.Fatalf("CallModel = %+v, %v", res, err)
	}
}
