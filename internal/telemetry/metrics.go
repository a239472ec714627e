package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	tempotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// MetricsPath is where Handler is served.
const MetricsPath = "/metrics"

// Metrics is one process's metrics: an OpenTelemetry MeterProvider whose
// instruments are exported in the Prometheus text format, plus the Go
// runtime and process collectors.
type Metrics struct {
	registry *prometheus.Registry
	provider *sdkmetric.MeterProvider
	log      *slog.Logger
}

// NewMetrics builds the metrics of the program named service (its log
// lines about metrics, from the /metrics handler and the Temporal SDK's
// handler, carry it as "service"). A nil logger uses slog.Default.
func NewMetrics(service string, log *slog.Logger) (*Metrics, error) {
	if log == nil {
		log = slog.Default()
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("metrics: prometheus exporter: %w", err)
	}
	m := &Metrics{registry: reg, provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)), log: log.With("service", service)}
	return m, nil
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorLog: slogPromLogger{m.log}})
}

// Meter is the meter the product's counters are made from.
func (m *Metrics) Meter(scope string) metric.Meter { return m.provider.Meter(scope) }

// TemporalMetrics is the Temporal SDK's metrics handler (client.Options.
// MetricsHandler): the SDK's metrics, and the workflow's counters made
// through workflow.GetMetricsHandler, exported with the rest. Counters are
// monotonic, so they export as Prometheus counters (_total).
func (m *Metrics) TemporalMetrics() client.MetricsHandler {
	return tempotel.NewMetricsHandler(tempotel.MetricsHandlerOptions{
		Meter:                m.provider.Meter("temporal-sdk-go"),
		UseMonotonicCounters: true,
		OnError: func(err error) {
			m.log.Error("temporal metric not recorded", "err", err)
		},
	})
}

// Shutdown stops the provider; later recordings are dropped.
func (m *Metrics) Shutdown(ctx context.Context) error {
	return m.provider.Shutdown(ctx)
}

// slogPromLogger passes promhttp's errors to slog.
type slogPromLogger struct{ log *slog.Logger }

func (l slogPromLogger) Println(v ...any) { l.log.Error("metrics endpoint", "err", fmt.Sprint(v...)) }
