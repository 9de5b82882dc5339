package slo

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/llmslo/slo/semconv"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestIncidentSeriesStartAtZero: llm_slo_incidents_total and
// llm.slo.incidents have a series at 0 for every objective and severity
// before any incident, so that increase() counts the first one; the first
// incident then takes its series to 1.
func TestIncidentSeriesStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	clk := &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	sink := &captureSink{ch: make(chan struct{}, 8)}
	h := newHarness(t, WithoutProbes(), WithRegisterer(reg), withClock(clk.Now), WithIncidentSink(sink),
		WithMinCoverage(0), WithMinEvents(1), // a page from seconds of history
		WithObjectives(ErrorRate(0.99).Named("errors"), TTFT(time.Second, 0.9).Named("ttft")))

	prom := func() map[[2]string]float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[[2]string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "llm_slo_incidents_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				l := map[string]string{}
				for _, lp := range m.GetLabel() {
					l[lp.GetName()] = lp.GetValue()
				}
				out[[2]string{l["objective"], l["severity"]}] = m.GetCounter().GetValue()
			}
		}
		return out
	}
	otel := func() map[[2]string]int64 {
		t.Helper()
		sum, ok := h.metrics(t)[semconv.MetricIncidents].(metricdata.Sum[int64])
		if !ok {
			t.Fatalf("%s: no int64 sum", semconv.MetricIncidents)
		}
		out := map[[2]string]int64{}
		for _, dp := range sum.DataPoints {
			obj, _ := dp.Attributes.Value(semconv.SLOObjective)
			sev, _ := dp.Attributes.Value(semconv.SLOSeverity)
			out[[2]string{obj.AsString(), sev.AsString()}] = dp.Value
		}
		return out
	}
	zero := map[[2]string]float64{{"errors", "page"}: 0, {"errors", "ticket"}: 0, {"ttft", "page"}: 0, {"ttft", "ticket"}: 0}
	if diff := cmp.Diff(zero, prom()); diff != "" {
		t.Errorf("llm_slo_incidents_total before any incident (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff(map[[2]string]int64{{"errors", "page"}: 0, {"errors", "ticket"}: 0, {"ttft", "page"}: 0, {"ttft", "ticket"}: 0}, otel()); diff != "" {
		t.Errorf("llm.slo.incidents before any incident (-want +got)\n%s", diff)
	}

	hd := h.t.Instrument(statusHandler)
	for range 20 {
		serve(hd, "500")
		clk.Advance(time.Second)
	}
	select {
	case <-sink.ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no incident")
	}
	if got := prom()[[2]string{"errors", "page"}]; got != 1 {
		t.Errorf("llm_slo_incidents_total{errors,page} = %v after the first page, want 1", got)
	}
	if got := otel()[[2]string{"errors", "page"}]; got != 1 {
		t.Errorf("llm.slo.incidents{errors,page} = %v after the first page, want 1", got)
	}
}
