package slo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/llmslo/slo/semconv"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func TestSemconvFromEnv(t *testing.T) {
	tests := []struct {
		v    string
		want Semconv
	}{
		{"", SemconvV141},
		{"http", SemconvV141},
		{"gen_ai", SemconvV141},
		{"gen_ai_latest_experimental", SemconvLatest},
		{"http/dup, gen_ai_latest_experimental ,database", SemconvLatest},
		{"gen_ai_latest_experimental/dup", SemconvDup},
		{"gen_ai_latest_experimental,gen_ai_latest_experimental/dup", SemconvDup},
		{"GEN_AI_LATEST_EXPERIMENTAL", SemconvV141},
	}
	for _, tt := range tests {
		if got := semconvFromEnv(tt.v); got != tt.want {
			t.Errorf("semconvFromEnv(%q) = %d, want %d", tt.v, got, tt.want)
		}
	}
}

// TestSemconvOptIn checks that New reads OTEL_SEMCONV_STABILITY_OPT_IN once,
// that WithSemconv overrides it, and that invalid values are ignored.
func TestSemconvOptIn(t *testing.T) {
	t.Setenv(envSemconvOptIn, "gen_ai_latest_experimental")
	mode := func(opts ...Option) Semconv {
		t.Helper()
		tr, err := New(append([]Option{WithoutProbes()}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tr.Close() })
		return tr.cfg.semconv
	}
	if got := mode(); got != SemconvLatest {
		t.Errorf("from the environment: %d, want SemconvLatest", got)
	}
	if got := mode(WithSemconv(SemconvV141)); got != SemconvV141 {
		t.Errorf("WithSemconv(SemconvV141): %d", got)
	}
	if got := mode(WithSemconv(SemconvDup)); got != SemconvDup {
		t.Errorf("WithSemconv(SemconvDup): %d", got)
	}
	if got := mode(WithSemconv(0), WithSemconv(8)); got != SemconvLatest {
		t.Errorf("invalid WithSemconv values: %d, want the environment's", got)
	}
	tr, err := New(WithoutProbes())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	os.Setenv(envSemconvOptIn, "") // restored by t.Setenv's cleanup
	if tr.cfg.semconv != SemconvLatest {
		t.Errorf("the tracker's conventions changed with the environment after New")
	}
}

// tapProvider wraps a MeterProvider and keeps every value recorded on its
// float64 histograms, by instrument name: the per-chunk values themselves,
// which an aggregation would fold.
type tapProvider struct {
	metric.MeterProvider
	mu   sync.Mutex
	vals map[string][]float64
}

func (p *tapProvider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return tapMeter{p.MeterProvider.Meter(name, opts...), p}
}

func (p *tapProvider) values(name string) []float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]float64(nil), p.vals[name]...)
}

type tapMeter struct {
	metric.Meter
	p *tapProvider
}

func (m tapMeter) Float64Histogram(name string, opts ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	h, err := m.Meter.Float64Histogram(name, opts...)
	return tapHist{h, name, m.p}, err
}

type tapHist struct {
	metric.Float64Histogram
	name string
	p    *tapProvider
}

func (h tapHist) Record(ctx context.Context, v float64, opts ...metric.RecordOption) {
	h.p.mu.Lock()
	if h.p.vals == nil {
		h.p.vals = map[string][]float64{}
	}
	h.p.vals[h.name] = append(h.p.vals[h.name], v)
	h.p.mu.Unlock()
	h.Float64Histogram.Record(ctx, v, opts...)
}

// newTapHarness is newHarness with the conventions sc, a Prometheus
// registry, and a meter provider that keeps every histogram value.
func newTapHarness(t *testing.T, sc Semconv) (*harness, *tapProvider, *prometheus.Registry) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	tap := &tapProvider{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))}
	reg := prometheus.NewRegistry()
	h := newHarness(t, WithSemconv(sc), WithMeterProvider(tap), WithRegisterer(reg), WithoutProbes())
	h.reader = reader
	return h, tap, reg
}

// usageWant is the usage a recorded stream reports, read off its bytes;
// -1: the stream has no such field; none: it reports no usage at all (the
// latest conventions' input and output counters then count 0).
type usageWant struct {
	in, out, cacheRead, cacheWrite, reasoning int64
	none                                      bool
}

// recordedStreams are provider streams recorded from the real APIs
// (internal/stream/testdata), with the usage each reports.
var recordedStreams = []struct {
	file, path, ct string
	stream         bool
	want           usageWant
}{
	{"openai_chat_tools.sse", "/v1/chat/completions", "text/event-stream", true, usageWant{81, 17, 64, -1, 0, false}},
	{"openai_chat_reasoning_crlf.sse", "/v1/chat/completions", "text/event-stream", true, usageWant{12, 40, 0, -1, 38, false}},
	{"openai_responses.sse", "/v1/responses", "text/event-stream", true, usageWant{37, 75, 0, -1, 64, false}},
	{"anthropic_tools_thinking.sse", "/v1/messages", "text/event-stream", true, usageWant{472 + 100 + 2000, 89, 2000, 100, -1, false}},
	{"anthropic.sse", "/v1/messages", "text/event-stream", true, usageWant{25, 15, 0, 0, -1, false}},
	{"anthropic.json", "/v1/messages", "application/json", false, usageWant{2095 + 0 + 5, 503, 5, 0, -1, false}},
	{"openai_responses.json", "/v1/responses", "application/json", false, usageWant{36, 87, 0, -1, 0, false}},
	{"ollama_chat.ndjson", "/api/chat", "application/x-ndjson", true, usageWant{26, 282, -1, -1, -1, false}},
}

var semconvModes = []struct {
	name string
	sc   Semconv
}{{"v1.41.0", SemconvV141}, {"latest", SemconvLatest}, {"dup", SemconvDup}}

// TestSemconvRecordedStreams replays recorded provider streams through the
// transport (client side) and through Instrument (server side), in each
// mode, and reads the usage back through the SDK's manual reader, the
// spans and the Prometheus registry: exact counts.
func TestSemconvRecordedStreams(t *testing.T) {
	for _, rs := range recordedStreams {
		body, err := os.ReadFile(filepath.Join("internal", "stream", "testdata", rs.file))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range semconvModes {
			t.Run(rs.file+"/"+m.name, func(t *testing.T) {
				h, _, reg := newTapHarness(t, m.sc)
				base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
					rec := httptest.NewRecorder()
					rec.Header().Set("Content-Type", rs.ct)
					rec.Write(body)
					resp := rec.Result()
					resp.Request = r
					return resp, nil
				})
				hc := &http.Client{Transport: h.t.Transport(base)}
				resp, err := hc.Post("http://127.0.0.1:1"+rs.path, "application/json", strings.NewReader(`{"model":"m","stream":true}`))
				if err != nil {
					t.Fatal(err)
				}
				drain(resp)
				checkClientUsage(t, h, reg, m.sc, rs.want)
				checkSpanUsage(t, h.lastClientSpan(t), m.sc, rs.want, "client")

				// The server side: the same bytes written by a handler.
				srv := h.t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Content-Type", rs.ct)
					w.Write(body)
				}))
				srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", rs.path, strings.NewReader(`{}`)))
				ended := h.spans.Ended()
				checkSpanUsage(t, ended[len(ended)-1], m.sc, rs.want, "server")
				checkServerUsage(t, h, reg, rs.want)
			})
		}
	}
}

func drain(resp *http.Response) {
	buf := make([]byte, 4096)
	for {
		if _, err := resp.Body.Read(buf); err != nil {
			break
		}
	}
	resp.Body.Close()
}

// checkClientUsage checks the client token metrics of one call with usage
// w in mode sc: the counters and histograms of the latest conventions (and
// none of the v1.41.0 ones) in the latest mode, the reverse in the v1.41.0
// one, both in dup.
func checkClientUsage(t *testing.T, h *harness, reg *prometheus.Registry, sc Semconv, w usageWant) {
	t.Helper()
	got := h.metrics(t)
	latest, old := sc&SemconvLatest != 0, sc&SemconvV141 != 0
	if _, ok := got["gen_ai.client.operation.duration"]; ok != old {
		t.Errorf("gen_ai.client.operation.duration present = %v, want %v", ok, old)
	}
	if _, ok := got["gen_ai.client.token.usage"]; ok != (old && !w.none) {
		t.Errorf("gen_ai.client.token.usage present = %v, want %v", ok, old && !w.none)
	}
	counters := map[string]int64{
		semconv.MetricClientUsageInputTokens:           w.in,
		semconv.MetricClientUsageOutputTokens:          w.out,
		semconv.MetricClientUsageCacheReadInputTokens:  w.cacheRead,
		semconv.MetricClientUsageCacheWriteInputTokens: w.cacheWrite,
		semconv.MetricClientUsageReasoningOutputTokens: w.reasoning,
	}
	for name, want := range counters {
		sum, ok := got[name].(metricdata.Sum[int64])
		present := ok && len(sum.DataPoints) > 0
		if wantPresent := latest && want >= 0; present != wantPresent {
			t.Errorf("%s present = %v, want %v", name, present, wantPresent)
			continue
		}
		if !present {
			continue
		}
		if len(sum.DataPoints) != 1 || sum.DataPoints[0].Value != want || !sum.IsMonotonic {
			t.Errorf("%s = %+v, want one point of %d", name, sum.DataPoints, want)
		}
		if v, _ := sum.DataPoints[0].Attributes.Value(semconv.GenAITokenModality); v.AsString() != "unknown" {
			t.Errorf("%s modality = %q", name, v.AsString())
		}
		prom := strings.ReplaceAll(name, ".", "_") + "_total"
		if v := promValue(t, reg, prom); v != float64(want) {
			t.Errorf("%s = %v, want %d", prom, v, want)
		}
	}
	for name, want := range map[string]int64{semconv.MetricClientOperationInputTokens: w.in, semconv.MetricClientOperationOutputTokens: w.out} {
		hist, ok := got[name].(metricdata.Histogram[int64])
		if ok != latest {
			t.Errorf("%s present = %v, want %v", name, ok, latest)
			continue
		}
		if ok && (len(hist.DataPoints) != 1 || hist.DataPoints[0].Count != 1 || hist.DataPoints[0].Sum != want) {
			t.Errorf("%s = %+v, want one call of %d tokens", name, hist.DataPoints, want)
		}
	}
	if d, ok := got[semconv.MetricClientInferenceDuration].(metricdata.Histogram[float64]); ok != latest || ok && d.DataPoints[0].Count != 1 {
		t.Errorf("%s = %+v, present %v, want %v with one call", semconv.MetricClientInferenceDuration, d, ok, latest)
	}
	if old && !w.none {
		tok := got["gen_ai.client.token.usage"].(metricdata.Histogram[int64])
		for _, dp := range tok.DataPoints {
			typ, _ := dp.Attributes.Value(semconv.GenAITokenType)
			if want := map[string]int64{"input": w.in, "output": w.out}[typ.AsString()]; dp.Sum != want {
				t.Errorf("gen_ai.client.token.usage %s = %d, want %d", typ.AsString(), dp.Sum, want)
			}
		}
	}
}

// checkServerUsage checks the server's token usage histogram after one
// request with usage w: one value per reported type, none for the others,
// in OpenTelemetry and in Prometheus alike.
func checkServerUsage(t *testing.T, h *harness, reg *prometheus.Registry, w usageWant) {
	t.Helper()
	want := map[string]int64{"input": w.in, "output": w.out, "cache_read": w.cacheRead, "cache_write": w.cacheWrite, "reasoning": w.reasoning}
	got := map[string]int64{}
	hist, _ := h.metrics(t)[semconv.MetricServerTokenUsage].(metricdata.Histogram[int64])
	for _, dp := range hist.DataPoints {
		typ, _ := dp.Attributes.Value(semconv.GenAITokenType)
		if dp.Count != 1 {
			t.Errorf("server token usage %s: %d values, want 1", typ.AsString(), dp.Count)
		}
		got[typ.AsString()] = dp.Sum
	}
	prom := map[string]int64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "llm_slo_server_token_usage_tokens" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "gen_ai_token_type" && m.GetHistogram().GetSampleCount() > 0 {
					prom[l.GetValue()] = int64(m.GetHistogram().GetSampleSum())
				}
			}
		}
	}
	for typ, n := range want {
		if n < 0 {
			delete(want, typ)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("server token usage (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, prom); diff != "" {
		t.Errorf("llm_slo_server_token_usage_tokens (-want +got):\n%s", diff)
	}
}

// promValue returns the sum of the samples of a counter family in reg; -1
// when the family is absent.
func promValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			v := 0.0
			for _, m := range mf.GetMetric() {
				v += m.GetCounter().GetValue()
			}
			return v
		}
	}
	return -1
}

// checkSpanUsage checks the usage attributes of a span in mode sc.
func checkSpanUsage(t *testing.T, span sdktrace.ReadOnlySpan, sc Semconv, w usageWant, side string) {
	t.Helper()
	a := attrMap(span)
	check := func(k attribute.Key, want int64, on bool) {
		t.Helper()
		v, ok := a[k]
		if wantOK := on && want >= 0; ok != wantOK {
			t.Errorf("%s span: %s present = %v, want %v", side, k, ok, wantOK)
		} else if ok && v.AsInt64() != want {
			t.Errorf("%s span: %s = %d, want %d", side, k, v.AsInt64(), want)
		}
	}
	check(semconv.GenAIUsageInputTokens, w.in, !w.none)
	check(semconv.GenAIUsageOutputTokens, w.out, !w.none)
	check(semconv.GenAIUsageCacheReadInputTokens, w.cacheRead, true)
	check(semconv.GenAIUsageCacheCreationInputTokens, w.cacheWrite, sc&SemconvV141 != 0)
	check(semconv.GenAIUsageCacheWriteInputTokens, w.cacheWrite, sc&SemconvLatest != 0)
	check(semconv.GenAIUsageReasoningOutputTokens, w.reasoning, true)
}
