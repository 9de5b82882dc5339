package slo

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/llmslo/slo/semconv"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestRequestsCounter checks llm.slo.requests, which the tracker counts in
// atomics and reports at collection: a monotonic cumulative sum per
// objective and verdict, a series only once it has a request, and the
// counts carried across collections.
func TestRequestsCounter(t *testing.T) {
	h := newHarness(t, WithoutProbes(), WithObjectives(
		TTFT(50*time.Millisecond, 0.99).Named("fast"),
		ErrorRate(0.999).Named("ok"),
	))
	fast := h.t.Instrument(openAIStream(0, 0, 3, 0))
	slow := h.t.Instrument(openAIStream(80*time.Millisecond, 0, 3, 0))
	serve := func(hd http.Handler) {
		rec := httptest.NewRecorder()
		hd.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil))
	}

	counts := func() map[[2]string]int64 {
		t.Helper()
		sum, ok := h.metrics(t)[semconv.MetricRequests].(metricdata.Sum[int64])
		if !ok {
			t.Fatalf("%s: no int64 sum", semconv.MetricRequests)
		}
		if !sum.IsMonotonic || sum.Temporality != metricdata.CumulativeTemporality {
			t.Errorf("monotonic %v, temporality %v; want a monotonic cumulative sum", sum.IsMonotonic, sum.Temporality)
		}
		out := map[[2]string]int64{}
		for _, dp := range sum.DataPoints {
			obj, _ := dp.Attributes.Value(semconv.SLOObjective)
			good, _ := dp.Attributes.Value(semconv.SLOGood)
			out[[2]string{obj.AsString(), good.Emit()}] = dp.Value
		}
		return out
	}

	serve(fast)
	serve(fast)
	want := map[[2]string]int64{{"fast", "true"}: 2, {"ok", "true"}: 2}
	if diff := cmp.Diff(want, counts()); diff != "" {
		t.Errorf("after two fast requests (-want +got):\n%s", diff)
	}
	serve(slow)
	want = map[[2]string]int64{{"fast", "true"}: 2, {"fast", "false"}: 1, {"ok", "true"}: 3}
	if diff := cmp.Diff(want, counts()); diff != "" {
		t.Errorf("after a slow request (-want +got):\n%s", diff)
	}
}
