package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	tempotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// EnvTraceFile names the file spans are appended to, as JSON lines (one
// span a line, OpenTelemetry's stdout exporter format). Empty: tracing off.
const EnvTraceFile = "HITL_TRACE_FILE"

// Tracing is one process's tracing: off (every method is a no-op) or
// spans appended to a local file.
type Tracing struct {
	provider *sdktrace.TracerProvider // nil when off
	file     *os.File
	tracer   trace.Tracer
}

// NewTracing starts tracing for the program named service into path, or
// returns Tracing that is off when path is empty.
func NewTracing(service, path string) (*Tracing, error) {
	if path == "" {
		return &Tracing{tracer: noop.NewTracerProvider().Tracer(service)}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("trace file (-trace-file, %s): %w", EnvTraceFile, err)
	}
	exp, err := stdouttrace.New(stdouttrace.WithWriter(f))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("trace exporter: %w", err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", service))
	// A synchronous exporter: a span is on disk when it ends, so a killed
	// process loses none that ended. The file is local; the cost is small.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
	return &Tracing{provider: tp, file: f, tracer: tp.Tracer(service)}, nil
}

// Enabled reports whether spans are recorded.
func (t *Tracing) Enabled() bool { return t.provider != nil }

// Tracer is the program's own tracer (no-op when off).
func (t *Tracing) Tracer() trace.Tracer { return t.tracer }

// ClientInterceptors are the Temporal client interceptors: the SDK's
// tracing interceptor when on (it also intercepts the worker), none when
// off.
func (t *Tracing) ClientInterceptors() ([]interceptor.ClientInterceptor, error) {
	if !t.Enabled() {
		return nil, nil
	}
	i, err := tempotel.NewTracingInterceptor(tempotel.TracerOptions{
		Tracer:         t.provider.Tracer("temporal-sdk-go"),
		SpanContextKey: spanKey{},
	})
	if err != nil {
		return nil, fmt.Errorf("tracing interceptor: %w", err)
	}
	return []interceptor.ClientInterceptor{i}, nil
}

// WorkerInterceptors are the worker interceptors that go with
// ClientInterceptors: DecisionSpans when on, none when off.
func (t *Tracing) WorkerInterceptors() []interceptor.WorkerInterceptor {
	if !t.Enabled() {
		return nil
	}
	return []interceptor.WorkerInterceptor{&DecisionSpans{}}
}

// Shutdown flushes and closes the trace file.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return errors.Join(t.provider.Shutdown(ctx), t.file.Close())
}

// spanKey is the workflow-context key under which the SDK's tracing
// interceptor keeps the current span; DecisionSpans reads and sets it.
type spanKey struct{}
