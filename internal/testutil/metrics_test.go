package testutil

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func TestCounterSum(t *testing.T) {
	r := sdkmetric.NewManualReader()
	c, err := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r)).Meter("test").Int64Counter("c")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", "a")))
	c.Add(ctx, 2, metric.WithAttributes(attribute.String("reason", "b"), attribute.String("tool", "x")))
	c.Add(ctx, 4, metric.WithAttributes(attribute.String("reason", "b"), attribute.String("tool", "y")))
	tests := []struct {
		name  string
		attrs []attribute.KeyValue
		want  int64
	}{
		{"all series", nil, 7},
		{"one reason", []attribute.KeyValue{attribute.String("reason", "b")}, 6},
		{"every attribute given", []attribute.KeyValue{attribute.String("reason", "b"), attribute.String("tool", "y")}, 4},
		{"no such value", []attribute.KeyValue{attribute.String("reason", "z")}, 0},
	}
	for _, tc := range tests {
		if got := CounterSum(t, r, "c", tc.attrs...); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if got := CounterSum(t, r, "other"); got != 0 {
		t.Errorf("another counter: %d", got)
	}
}
