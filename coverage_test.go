package slo

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/llmslo/slo/semconv"
)

// TestColdStartGate: a tracker seconds old does not page on 99 good
// requests and one failure (99.9 %, burn 10 over every window), unless the
// gate is off; in partial mode a total outage (99 %) pages when the 1h
// window's burn times its coverage passes 14.4, at 519 s by hand (100 × t /
// 3600 > 14.4 from t > 518.4 s).
func TestColdStartGate(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		opt  Option
		want int
	}{
		{"default gate", nil, 0},
		{"partial coverage", WithPartialCoverage(true), 0},
		{"gate off", ungated(), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{now: t0}
			sink := &captureSink{ch: make(chan struct{}, 8)}
			tr, err := New(WithObjectives(ErrorRate(0.999)), WithIncidentSink(sink), withClock(clk.Now), tc.opt, WithoutProbes())
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			h := tr.Instrument(statusHandler)
			for i := range 100 {
				clk.Advance(400 * time.Millisecond)
				serve(h, map[bool]string{true: "500", false: "200"}[i == 99])
			}
			time.Sleep(1200 * time.Millisecond) // an evaluation tick
			if n := sink.count(); n != tc.want {
				t.Errorf("%d incidents 40 s after start, want %d", n, tc.want)
			}
		})
	}

	clk := &fakeClock{now: t0}
	sink := &captureSink{ch: make(chan struct{}, 8)}
	tr, err := New(WithObjectives(ErrorRate(0.99)), WithIncidentSink(sink), withClock(clk.Now), WithPartialCoverage(true), WithoutProbes())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	h := tr.Instrument(statusHandler)
	for range 600 {
		serve(h, "500")
		clk.Advance(time.Second)
	}
	inc := sink.first(t, 5*time.Second)
	if d := inc.Time.Sub(t0); d != 519*time.Second || inc.Rule != "1h>14.4 and 5m>14.4" {
		t.Errorf("paged %v after start on %q, want 519s on the 1h rule", d, inc.Rule)
	}
}

// TestBudgetStatus: 40 s after start, 99 good requests and one failure on a
// 99.9 % objective: burn 10 over every window, each window's coverage by
// hand (40 s of its span), the budget 1 − 1/(0.001 × 100) = −9 shown as 0
// and exhausted, every rule waiting for coverage; the coverage gauges carry
// the same figures to Prometheus and OpenTelemetry.
func TestBudgetStatus(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	reg := prometheus.NewRegistry()
	h := newHarness(t, WithObjectives(ErrorRate(0.999)), withClock(clk.Now), WithRegisterer(reg), WithoutProbes())
	hd := h.t.Instrument(statusHandler)
	clk.Advance(40 * time.Second)
	for i := range 100 {
		serve(hd, map[bool]string{true: "500", false: "200"}[i == 99])
	}
	b := h.t.Budget()[0]
	cov := map[string]float64{"5m": 40.0 / 300, "30m": 40.0 / 1800, "1h": 40.0 / 3600, "6h": 40.0 / 21600, "1d": 40.0 / 86400, "3d": 40.0 / 259200}
	var want []BurnRate
	for _, w := range []string{"5m", "30m", "1h", "6h", "1d", "3d"} {
		want = append(want, BurnRate{Window: w, Rate: 10, Coverage: cov[w], Good: 99, Total: 100})
	}
	near := cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-9 })
	if diff := cmp.Diff(want, b.BurnRates, near); diff != "" {
		t.Errorf("burn rates (-want +got):\n%s", diff)
	}
	if math.Abs(b.RemainingRaw+9) > 1e-9 || b.Remaining != 0 || !b.Exhausted || math.Abs(b.Coverage-40.0/2592000) > 1e-12 || b.Origin != OriginCold {
		t.Errorf("budget %v (raw %v, exhausted %v), coverage %v, origin %q", b.Remaining, b.RemainingRaw, b.Exhausted, b.Coverage, b.Origin)
	}
	wantRules := []RuleStatus{
		{Rule: "1h>14.4 and 5m>14.4", Severity: "page", Verdict: "uncovered", Detail: "1h window 1.1% observed, needs 50%"},
		{Rule: "6h>6 and 30m>6", Severity: "page", Verdict: "uncovered", Detail: "6h window 0.19% observed, needs 50%"},
		{Rule: "3d>1 and 6h>1", Severity: "ticket", Verdict: "uncovered", Detail: "3d window 0.015% observed, needs 50%"},
	}
	if diff := cmp.Diff(wantRules, b.Rules); diff != "" || len(b.Alerting) != 0 {
		t.Errorf("rules (-want +got):\n%s\nalerting %v", diff, b.Alerting)
	}

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == "llm_slo_burn_rate_coverage" {
				got[m.GetLabel()[1].GetValue()] = m.GetGauge().GetValue()
			}
			if mf.GetName() == "llm_slo_error_budget_remaining" && m.GetGauge().GetValue() > -8.99 {
				t.Errorf("llm_slo_error_budget_remaining = %v, want the raw −9", m.GetGauge().GetValue())
			}
		}
	}
	if diff := cmp.Diff(cov, got, near); diff != "" {
		t.Errorf("llm_slo_burn_rate_coverage (-want +got):\n%s", diff)
	}
	gauge, ok := h.metrics(t)[semconv.MetricBurnRateCoverage].(metricdata.Gauge[float64])
	if !ok || len(gauge.DataPoints) != 6 {
		t.Fatalf("%s: %+v", semconv.MetricBurnRateCoverage, gauge)
	}
	for _, dp := range gauge.DataPoints {
		w, _ := dp.Attributes.Value(semconv.SLOWindow)
		if math.Abs(dp.Value-cov[w.AsString()]) > 1e-9 {
			t.Errorf("%s{%s} = %v, want %v", semconv.MetricBurnRateCoverage, w.AsString(), dp.Value, cov[w.AsString()])
		}
	}
}
