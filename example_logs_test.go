package slo_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/llmslo/slo"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// printExporter prints the event name, severity and status of each record;
// a real program uses an OTLP exporter (otlploghttp) instead.
type printExporter struct{}

func (printExporter) Export(_ context.Context, recs []sdklog.Record) error {
	for _, r := range recs {
		fmt.Println(r.EventName(), r.SeverityText())
	}
	return nil
}
func (printExporter) Shutdown(context.Context) error   { return nil }
func (printExporter) ForceFlush(context.Context) error { return nil }

func ExampleWithLoggerProvider() {
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(printExporter{})))
	t, err := slo.New(slo.WithoutProbes(), slo.WithLoggerProvider(lp), slo.WithObjectives(slo.ErrorRate(0.99)))
	if err != nil {
		fmt.Println(err)
		return
	}
	h := t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/chat/completions", nil))
	_ = t.Close() // delivers what is queued
	// Output:
	// llm.slo.event ERROR
}

func ExampleHealthAlerts() {
	for _, a := range slo.HealthAlerts() {
		fmt.Printf("%s (for %s): %s\n", a.Name, a.For, a.Summary)
	}
	// Output:
	// LLMSLOProbeDown (for 2m): a kernel or runtime signal that delivered in the last hour is off
	// LLMSLOEventsLost (for 5m): evidence is being lost before use
	// LLMSLOProbeOverheadHigh (for 1m): the overhead guard turned a signal off
	// LLMSLOCorrelationDegraded (for 15m): most kernel events with an owner join requests below the enrichment threshold
	// LLMSLOSidecarDisconnected (for 1m): the slo-sidecar is in use and its session is down
	// LLMSLOSinkFailing (for 5m): deliveries to an incident or SLO event sink keep failing
	// LLMSLOEvaluationStale (for 2m): the tracker stopped evaluating its alert rules
}
