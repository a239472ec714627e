package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/healthz"
	"github.com/hitl/durable-approvals/internal/reannounce"
	"github.com/hitl/durable-approvals/internal/telemetry"
	"github.com/hitl/durable-approvals/internal/temporalconn"
	"github.com/hitl/durable-approvals/workflows"
)

// run builds the clients, checks the policy against the tools, and runs the
// Temporal worker until ctx is done. It returns nil after a graceful stop.
func run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	policy, err := config.LoadPolicy(cfg.PolicyFile)
	if err != nil {
		return config.Usage(fmt.Errorf("%w (-policy, %s)", err, config.EnvPolicyFile))
	}
	blog, err := activities.NewBlog(activities.BlogConfig{Dir: cfg.BlogDir, WebhookURL: cfg.BlogWebhookURL})
	if err != nil {
		// A directory that cannot be made or written: bad input, said
		// before anything is contacted.
		return config.Usage(fmt.Errorf("%w (-blog-dir, %s)", err, config.EnvBlogDir))
	}
	registry, err := activities.NewRegistry(blog.Tools()...)
	if err != nil {
		return err
	}
	warnings, err := checkPolicyTools(policy, registry.Names())
	if err != nil {
		return config.Usage(fmt.Errorf("policy file %s: %w", cfg.PolicyFile, err))
	}
	warnings = append(warnings, registry.SchemaWarnings()...)
	for _, w := range append(warnings, webhookWarnings(policy, cfg.BlogWebhookURL)...) {
		logger.Warn("policy check", "file", cfg.PolicyFile, "warning", w)
	}
	logger.Info("policy loaded", "file", cfg.PolicyFile, "roles", policy.Roles, "tools", len(policy.Tools))

	model, err := activities.NewOpenAIModel(activities.OpenAIConfig{
		APIKey:  openAIKey(cfg),
		BaseURL: cfg.OpenAIBaseURL,
		Model:   cfg.OpenAIModel,
	})
	if err != nil {
		return err
	}
	publisher, err := activities.NewAblyPublisher(cfg.Ably, cfg.AgentClientID)
	if err != nil {
		return err
	}
	// The trace file is the last setting that can be wrong: open it
	// before anything is contacted (the Ably key check may wait 10 s).
	tracing, err := telemetry.NewTracing("hitl-worker", cfg.TraceFile)
	if err != nil {
		return config.Usage(err)
	}
	defer shutdown(ctx, logger, "tracing", tracing.Shutdown)
	// A key Ably refuses would fail every approval request: stop here.
	// Ably out of reach is no reason not to start (a request that cannot
	// be published is published again later).
	capability, err := ablyconn.ChannelCapability(cfg.Channel, "publish")
	if err != nil {
		return err
	}
	if err := cfg.Ably.RequireKey(ctx, logger, cfg.AgentClientID, capability); err != nil {
		return err
	}
	verifier, err := cfg.verifier()
	if err != nil {
		return err
	}
	logger.Info("decision verify keys", "keyIds", verifier.KeyIDs(), "retiredKeyIds", verifier.RetiredKeyIDs())

	metrics, err := telemetry.NewMetrics("worker", logger)
	if err != nil {
		return err
	}
	defer shutdown(ctx, logger, "metrics", metrics.Shutdown)
	interceptors, err := tracing.ClientInterceptors()
	if err != nil {
		return err
	}

	topts := cfg.Temporal
	topts.Logger = tlog.NewStructuredLogger(logger)
	topts.MetricsHandler = metrics.TemporalMetrics()
	topts.Interceptors = append(topts.Interceptors, interceptors...)
	// Wait for a Temporal that is not up yet, as the bridge does: the
	// worker may start first (a reboot, a supervisor's order).
	c, err := temporalconn.Dial(ctx, topts, logger)
	if err != nil {
		if ctx.Err() != nil {
			logger.Info("worker stopped before Temporal answered")
			return nil
		}
		return err
	}
	defer c.Close()

	toolRetry, modelRetry := cfg.toolRetry(), cfg.modelRetry()
	acts, err := activities.New(activities.Deps{
		Model:        model,
		Tools:        registry,
		Publisher:    publisher,
		Policy:       policy,
		Verifier:     verifier,
		Runs:         c,
		MessageIDKey: cfg.Ably.MessageIDKey(),
		Channel:      cfg.Channel,
		Logger:       logger,
		ToolRetry:    &toolRetry,
		ModelRetry:   &modelRetry,
	})
	if err != nil {
		return err
	}

	if cfg.HealthAddr != "" {
		_, stop, err := healthz.Serve(ctx, cfg.HealthAddr, healthz.Ops(healthz.Handler(c, logger), metrics.Handler()), logger)
		if err != nil {
			return err
		}
		defer stop()
	}

	applyProcessLimits(cfg, worker.SetStickyWorkflowCacheSize, debug.SetMemoryLimit)
	// Every activity's failure reaches Temporal as valid UTF-8, whatever a
	// CMS or a model server answered (activities.ValidUTF8Failures).
	workerInterceptors := append(tracing.WorkerInterceptors(), &activities.ValidUTF8Failures{})
	// The keeper hears of a run made by a reset as soon as this worker
	// first runs it (reannounce.ResetWatch).
	var resets *reannounce.ResetWatch
	if cfg.ReannounceEvery > 0 {
		resets = reannounce.NewResetWatch(resetWatchCapacity)
		workerInterceptors = append(workerInterceptors, resets)
	}
	w := worker.New(c, workflows.TaskQueue, workerOptions(workerInterceptors))
	for _, name := range workflows.RegisteredNames() {
		w.RegisterWorkflowWithOptions(workflows.AgentWorkflow, workflow.RegisterOptions{Name: name})
	}
	w.RegisterActivity(acts)

	// It stops before the client closes, also when the worker stops on an
	// error of its own.
	stopPruner := startPruner(ctx, cfg, blog, temporalRunKnown(c), pruneEvery, logger)
	defer stopPruner()
	// It stops before the client closes, as the pruner does.
	stopKeeper, err := startKeeper(ctx, cfg, c, publisher, resets, metrics.Meter("hitl-keeper"), logger)
	if err != nil {
		return err
	}
	defer stopKeeper()
	logger.Info("worker starting", "temporal", topts.HostPort, "namespace", topts.Namespace,
		"taskQueue", workflows.TaskQueue, "workflowCache", cfg.WorkflowCache, "memoryLimit", cfg.MemoryLimit, "model", cfg.OpenAIModel, "openaiBaseURL", activities.ShownURL(cfg.OpenAIBaseURL),
		"ablyEndpoint", cfg.Ably.Endpoint, "channel", cfg.Channel, "blogDir", cfg.BlogDir, "tracing", tracing.Enabled(), "reannounceEvery", cfg.ReannounceEvery, "toolAttempts", toolRetry.MaxAttempts, "modelRetryFor", modelRetry.For, "modelTimeout", modelRetry.AttemptTimeout)
	if err := w.Run(interruptOn(ctx)); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	logger.Info("worker stopped")
	return nil
}

// applyProcessLimits sets the SDK's sticky workflow cache to
// cfg.WorkflowCache (setCache: worker.SetStickyWorkflowCacheSize) and,
// unless GOMEMLIMIT set one already (cfg.MemoryLimit 0), the runtime's
// soft memory limit (setLimit: debug.SetMemoryLimit). Both are
// process-wide; this process runs one worker.
func applyProcessLimits(cfg Config, setCache func(int), setLimit func(int64) int64) {
	setCache(cfg.WorkflowCache)
	if cfg.MemoryLimit > 0 {
		setLimit(cfg.MemoryLimit)
	}
}

// workerOptions are the Temporal worker's options: its interceptors, and
// how long a stopping worker waits for the tasks under way (stopTimeout).
func workerOptions(interceptors []interceptor.WorkerInterceptor) worker.Options {
	return worker.Options{Interceptors: interceptors, WorkerStopTimeout: stopTimeout}
}

// scriptedModelKey is sent to a loopback scripted model, which needs no
// key; Validate allows an empty OPENAI_API_KEY only in that case.
const scriptedModelKey = "scripted-model-needs-no-key"

// stopTimeout is how long a stopping worker (SIGINT, SIGTERM) waits for
// the tasks under way, such as a tool's webhook POST, before it cancels
// them (the SDK's default is not to wait). The SDK waits that long for
// each of its parts in turn (workflow tasks, local activities, activities),
// so at most about 24 s: under the 30 s that Kubernetes and compose's
// stop_grace_period here give before SIGKILL. A local activity (a tool)
// runs inside its workflow task: its result counts only within the first
// stopTimeout.
const stopTimeout = 8 * time.Second

func openAIKey(cfg Config) string {
	if cfg.OpenAIAPIKey == "" {
		return scriptedModelKey
	}
	return cfg.OpenAIAPIKey
}

// shutdown runs stop with a short deadline of its own, logging a failure.
func shutdown(ctx context.Context, logger *slog.Logger, what string, stop func(context.Context) error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := stop(sctx); err != nil {
		logger.Warn("shutdown", "part", what, "err", err)
	}
}

// interruptOn returns a channel that is closed when ctx is done, the form
// worker.Run wants its stop signal in.
func interruptOn(ctx context.Context) <-chan any {
	ch := make(chan any)
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch
}
