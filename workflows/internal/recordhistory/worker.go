package main

import (
	"fmt"
	"sync"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/workflows"
)

// recorderWorker is the recorder's worker, which a scenario may stop and
// start again (workerDown).
type recorderWorker struct {
	c    client.Client
	fake *fakeActivities
	w    worker.Worker

	mu sync.Mutex
	// policyVersion is the changeWorkerPolicy version to record, by
	// workflow id (scenario.workerPolicyVersion).
	policyVersion map[string]workflow.Version
}

// setPolicyVersion makes the runs of workflow id record version v of
// changeWorkerPolicy.
func (wk *recorderWorker) setPolicyVersion(id string, v workflow.Version) {
	wk.mu.Lock()
	defer wk.mu.Unlock()
	if wk.policyVersion == nil {
		wk.policyVersion = map[string]workflow.Version{}
	}
	wk.policyVersion[id] = v
}

// preferredVersion is the worker's PreferredVersionProvider: the version
// a scenario asks for, else the newest.
func (wk *recorderWorker) preferredVersion(in worker.PreferredVersionProviderInput) *worker.VersionPreference {
	wk.mu.Lock()
	defer wk.mu.Unlock()
	v, ok := wk.policyVersion[in.WorkflowInfo.WorkflowExecution.ID]
	if !ok || in.ChangeID != workflows.ChangeWorkerPolicy {
		return nil
	}
	return &worker.VersionPreference{Version: v}
}

func (wk *recorderWorker) start() error {
	w := worker.New(wk.c, workflows.TaskQueue, worker.Options{PreferredVersionProvider: wk.preferredVersion})
	for _, name := range workflows.RegisteredNames() {
		w.RegisterWorkflowWithOptions(workflows.AgentWorkflow, workflow.RegisterOptions{Name: name})
	}
	fake := wk.fake
	w.RegisterActivityWithOptions(fake.CallModel, activity.RegisterOptions{Name: workflows.ActivityCallModel})
	w.RegisterActivityWithOptions(fake.ExecuteTool, activity.RegisterOptions{Name: workflows.ActivityExecuteTool})
	w.RegisterActivityWithOptions(fake.PublishApprovalRequest, activity.RegisterOptions{Name: workflows.ActivityPublishApprovalRequest})
	w.RegisterActivityWithOptions(fake.PublishApprovalResolved, activity.RegisterOptions{Name: workflows.ActivityPublishApprovalResolved})
	w.RegisterActivityWithOptions(fake.PublishApprovalIgnored, activity.RegisterOptions{Name: workflows.ActivityPublishApprovalIgnored})
	w.RegisterActivityWithOptions(fake.WorkerPolicy, activity.RegisterOptions{Name: workflows.ActivityWorkerPolicy})
	w.RegisterActivityWithOptions(fake.VerifyDecision, activity.RegisterOptions{Name: workflows.ActivityVerifyDecision})
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	wk.w = w
	return nil
}

func (wk *recorderWorker) stop() {
	if wk.w != nil {
		wk.w.Stop()
		wk.w = nil
	}
}
