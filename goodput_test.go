package slo

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/llmslo/slo/semconv"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestGoodputHandCount sends a mixed stream of requests under two
// objectives, TTFT(300ms) and ErrorRate, and checks the goodput counters
// against a count by hand:
//
//	kind       n  TTFT      errors  met all  output tokens
//	fast       7  good      good    yes      5 each (stream usage)
//	slow       3  bad       good    no       5 each
//	failed     4  bad       bad     no       none
//	plain      5  unjudged  good    yes      9 each (Request.Usage)
//
// judged 19, good 12; tokens 7·5 + 3·5 + 5·9 = 95, good tokens 35 + 45 = 80.
// The slow streams wait 700 ms before their first chunk (over the 300 ms
// threshold whatever the load); the fast ones none.
func TestGoodputHandCount(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	h := newHarness(t, WithRegisterer(reg), WithoutProbes(),
		WithObjectives(TTFT(300*time.Millisecond, 0.99), ErrorRate(0.99)))
	fast := openAIStream(0, 0, 5, 5)
	slow := openAIStream(700*time.Millisecond, 0, 5, 5)
	failed := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	plain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		RequestFrom(r.Context()).Usage(3, 9)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	kinds := []struct {
		h http.Handler
		n int
	}{{fast, 7}, {slow, 3}, {failed, 4}, {plain, 5}}
	var wg sync.WaitGroup
	for _, k := range kinds {
		in := h.t.Instrument(k.h)
		for range k.n {
			wg.Go(func() {
				in.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil))
			})
		}
	}
	wg.Wait()

	want := GoodputStatus{Requests: 19, GoodRequests: 12, Tokens: 95, GoodTokens: 80}
	if got := h.t.Status().Goodput; got != want {
		t.Errorf("Status().Goodput = %+v, want %+v", got, want)
	}
	if r := want.Ratio(); r != 12.0/19 {
		t.Errorf("Ratio = %v, want 12/19", r)
	}
	for _, c := range []struct {
		metric, good string
		want         float64
	}{
		{"llm_slo_goodput_requests_total", "true", 12}, {"llm_slo_goodput_requests_total", "false", 7},
		{"llm_slo_goodput_tokens_total", "true", 80}, {"llm_slo_goodput_tokens_total", "false", 15},
	} {
		var vec *prometheus.CounterVec
		if c.metric == "llm_slo_goodput_requests_total" {
			vec = h.t.prom.goodReq
		} else {
			vec = h.t.prom.goodTok
		}
		var pm dto.Metric
		if err := vec.WithLabelValues(c.good).Write(&pm); err != nil {
			t.Fatal(err)
		}
		if got := pm.GetCounter().GetValue(); got != c.want {
			t.Errorf("%s{good=%q} = %v, want %v", c.metric, c.good, got, c.want)
		}
	}
	m := h.metrics(t)
	for name, want := range map[string][2]int64{semconv.MetricGoodputRequests: {7, 12}, semconv.MetricGoodputTokens: {15, 80}} {
		sum, ok := m[name].(metricdata.Sum[int64])
		if !ok {
			t.Fatalf("%s: %T, want an int64 sum", name, m[name])
		}
		var got [2]int64
		for _, dp := range sum.DataPoints {
			v, _ := dp.Attributes.Value(semconv.SLOGood)
			got[boolIndex(v.AsBool())] = dp.Value
		}
		if got != want {
			t.Errorf("%s by good (false, true) = %v, want %v", name, got, want)
		}
	}
}
