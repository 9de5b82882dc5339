package main

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// telemetry holds the service's own OpenTelemetry providers. They are passed
// to the tracker explicitly; the otel globals are left alone.
type telemetry struct {
	tp        trace.TracerProvider
	mp        metric.MeterProvider // nil without OTLP: Prometheus only
	lp        log.LoggerProvider   // nil without OTLP: incidents go to slog only
	otlp      bool
	shutdowns []func(context.Context) error
}

// newTelemetry always creates an SDK tracer provider (so that spans have
// trace IDs, which incidents list as exemplars); it exports spans, metrics
// and log records (incidents and SLO events) over OTLP/HTTP only when
// OTEL_EXPORTER_OTLP_ENDPOINT (or the per-signal variables) is set. The exporters read the standard OTEL_EXPORTER_OTLP_*
// variables themselves.
func newTelemetry(ctx context.Context, env func(string) string, service string) (*telemetry, error) {
	res := resource.NewSchemaless(attribute.String("service.name", service))
	t := &telemetry{}
	otlp := env("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if otlp {
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("otlp trace exporter: %w", err)
		}
		topts = append(topts, sdktrace.WithBatcher(exp))
		t.otlp = true
	}
	tp := sdktrace.NewTracerProvider(topts...)
	t.tp = tp
	t.shutdowns = append(t.shutdowns, tp.Shutdown)
	if env("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") != "" {
		exp, err := otlpmetrichttp.New(ctx)
		if err != nil {
			_ = tp.Shutdown(ctx)
			return nil, fmt.Errorf("otlp metric exporter: %w", err)
		}
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
		t.mp = mp
		t.otlp = true
		t.shutdowns = append(t.shutdowns, mp.Shutdown)
	}
	if env("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || env("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT") != "" {
		exp, err := otlploghttp.New(ctx)
		if err != nil {
			_ = t.shutdown(ctx)
			return nil, fmt.Errorf("otlp log exporter: %w", err)
		}
		lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)))
		t.lp = lp
		t.otlp = true
		t.shutdowns = append(t.shutdowns, lp.Shutdown)
	}
	return t, nil
}

func (t *telemetry) shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdowns {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}
