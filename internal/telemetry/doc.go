// Package telemetry owns what the long-running programs (worker, approver
// bridge, auth server) tell operators beyond their logs:
//
//   - Metrics: one OpenTelemetry MeterProvider per process, exported in the
//     Prometheus text format by Handler (served at /metrics next to
//     /healthz). The Temporal SDK's own metrics reach it through
//     go.temporal.io/sdk/contrib/opentelemetry (TemporalMetrics, set as
//     client.Options.MetricsHandler); the product's counters are made from
//     Meter by the packages that count (internal/bridge, internal/authserver,
//     internal/reannounce: the worker's keeper), by the workflow through
//     workflow.GetMetricsHandler, and by the VerifyDecision local activity
//     through activity.GetMetricsHandler.
//   - Tracing: OpenTelemetry spans through the Temporal SDK's tracing
//     interceptor, written as JSON lines to a local file when EnvTraceFile is
//     set and off otherwise. DecisionSpans makes the span of a tool activity
//     a child of the decision signal that approved it, so one trace runs from
//     the bridge's signal to the tool.
//
// It uses no global provider: every program builds its own and passes it
// down. It must not import the programs' packages; it knows only the
// workflow contract (workflows) for DecisionSpans.
package telemetry
