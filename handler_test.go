package slo

import (
	"bufio"
	"context"

	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/llmslo/slo/incident"
	"github.com/llmslo/slo/internal/testutil"
	"github.com/llmslo/slo/semconv"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// harness is a tracker wired to an in-memory span recorder and metric reader.
type harness struct {
	t      *Tracker
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
}

func newHarness(tb testing.TB, opts ...Option) *harness {
	tb.Helper()
	h := &harness{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	h.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	all := append([]Option{WithTracerProvider(h.tp), WithMeterProvider(mp),
		WithPropagators(propagation.TraceContext{})}, opts...)
	tr, err := New(all...)
	if err != nil {
		tb.Fatal(err)
	}
	h.t = tr
	tb.Cleanup(func() { _ = tr.Close() })
	return h
}

func (h *harness) metrics(tb testing.TB) map[string]metricdata.Aggregation {
	tb.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		tb.Fatal(err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

func (h *harness) lastSpanAttrs(tb testing.TB) map[attribute.Key]attribute.Value {
	tb.Helper()
	ended := h.spans.Ended()
	if len(ended) == 0 {
		tb.Fatal("no span ended")
	}
	out := map[attribute.Key]attribute.Value{}
	for _, kv := range ended[len(ended)-1].Attributes() {
		out[kv.Key] = kv.Value
	}
	return out
}

// paceTruth is what a paced handler itself saw: its first and its last
// moment.
type paceTruth struct{ start, end time.Time }

// openAIStream writes n OpenAI chat-completion chunks, gap apart, after wait,
// then a usage chunk when usage > 0, then [DONE]. When truth is not nil it
// records the handler's own timestamps.
func openAIStream(wait, gap time.Duration, n int, usage int, truth ...*paceTruth) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var pt paceTruth
		pt.start = time.Now()
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		time.Sleep(wait)
		for i := range n {
			if i > 0 {
				time.Sleep(gap)
			}
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"t%d\"}}]}\n\n", i)
			f.Flush()
		}
		fmt.Fprint(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m-1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n")
		if usage > 0 {
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n", usage, usage+12)
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
		f.Flush()
		pt.end = time.Now()
		if len(truth) > 0 && truth[0] != nil {
			*truth[0] = pt
		}
	})
}

func within(tb testing.TB, name string, got, want, tol float64) {
	tb.Helper()
	if got < want-tol || got > want+tol {
		tb.Errorf("%s = %.2f, want %.2f ± %.2f", name, got, want, tol)
	}
}

// writerTruth is a ResponseWriter under Instrument that notes when each of
// its Writes returned and each Flush was entered: the truth of when the
// response's bytes left Instrument, taken where that happens.
type writerTruth struct {
	http.ResponseWriter
	mu              sync.Mutex
	writes, flushes []time.Time
}

func (w *writerTruth) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.mu.Lock()
	w.writes = append(w.writes, time.Now())
	w.mu.Unlock()
	return n, err
}

func (w *writerTruth) Flush() {
	w.mu.Lock()
	w.flushes = append(w.flushes, time.Now())
	w.mu.Unlock()
	w.ResponseWriter.(http.Flusher).Flush()
}

// TestStreamingSLIs is the reference streaming scenario: 120 ms of prefill,
// then 50 chunks 10 ms apart. Each SLI is checked against the interval the
// truths around it allow, taken where the events happen, so that no load
// can break it: Instrument starts between the outer handler's entry and
// the inner handler's first line; it timestamps the first chunk after the
// writer below it returned from that chunk's Write and before the handler
// flushed it (writerTruth); it ends between the inner handler's last line
// and the outer handler regaining control.
func TestStreamingSLIs(t *testing.T) {
	for _, tc := range []struct {
		name       string
		usage      int
		wantTokens int64
		estimated  bool
	}{
		{"chunk count", 0, 50, true},
		{"stream usage", 50, 50, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, WithObjectives(TTFT(5*time.Second, 0.99), TPOT(time.Second, 0.99)))
			var truth paceTruth
			var outerStart, outerEnd time.Time
			var wt *writerTruth
			inner := h.t.Instrument(openAIStream(120*time.Millisecond, 10*time.Millisecond, 50, tc.usage, &truth))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				wt = &writerTruth{ResponseWriter: w}
				outerStart = time.Now()
				inner.ServeHTTP(wt, r)
				outerEnd = time.Now()
			}))
			defer srv.Close()
			resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"stream":true}`))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.HasSuffix(string(body), "data: [DONE]\n\n") {
				t.Fatalf("body not passed through: %q", body[len(body)-20:])
			}
			srv.Close() // waits for the handler, so the span has ended

			a := h.lastSpanAttrs(t)
			firstLo, firstHi := wt.writes[0], wt.flushes[0] // the first chunk's Write returned; its Flush entered
			const eps = 0.001                               // ms: float rounding
			span := func(name string, got float64, lo, hi time.Duration) {
				t.Helper()
				if got < durMs(lo)-eps || got > durMs(hi)+eps {
					t.Errorf("%s = %.3f, want within the truth [%.3f, %.3f]", name, got, durMs(lo), durMs(hi))
				}
			}
			for _, k := range []attribute.Key{semconv.SLOTTFTMs, semconv.SLOTTFBMs} {
				span(string(k), a[k].AsFloat64(), firstLo.Sub(truth.start), firstHi.Sub(outerStart))
			}
			span(string(semconv.SLOTPOTMs), a[semconv.SLOTPOTMs].AsFloat64(), truth.end.Sub(firstHi)/49, outerEnd.Sub(firstLo)/49)
			span(string(semconv.SLOE2EMs), a[semconv.SLOE2EMs].AsFloat64(), truth.end.Sub(truth.start), outerEnd.Sub(outerStart))
			if tps, tpot := a[semconv.SLOTokensPerSec].AsFloat64(), a[semconv.SLOTPOTMs].AsFloat64(); tps < 1000/tpot*(1-1e-6) || tps > 1000/tpot*(1+1e-6) {
				t.Errorf("tokens_per_sec %.4f, want 1000/tpot_ms = %.4f (TPOT is whole nanoseconds)", tps, 1000/tpot)
			}
			t.Logf("ttft %.2f ms (handler paced 120), tpot %.3f ms (paced 10); the first chunk's Write to Flush %.3f ms, Instrument's set-up %.3f ms",
				a[semconv.SLOTTFTMs].AsFloat64(), a[semconv.SLOTPOTMs].AsFloat64(), durMs(firstHi.Sub(firstLo)), durMs(truth.start.Sub(outerStart)))
			if got := a[semconv.GenAIUsageOutputTokens].AsInt64(); got != tc.wantTokens {
				t.Errorf("output tokens = %d, want %d", got, tc.wantTokens)
			}
			if got := a[semconv.SLOTokensEstimated].AsBool(); got != tc.estimated {
				t.Errorf("estimated = %v, want %v", got, tc.estimated)
			}
			if diff := cmp.Diff([]string{"ttft_5s_p99", "tpot_1s_p99"}, a[semconv.SLOObjective].AsStringSlice()); diff != "" {
				t.Errorf("objectives (-want +got):\n%s", diff)
			}
			if !a[semconv.SLOGood].AsBool() {
				t.Error("llm.slo.good = false")
			}
			for k, want := range map[attribute.Key]string{
				semconv.GenAIOperationName: "chat", semconv.GenAIProviderName: "openai",
				semconv.GenAIResponseModel: "m-1", semconv.SLOStreamFormat: "sse", semconv.SLOStreamDialect: "openai_chat",
			} {
				if got := a[k].AsString(); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if got := a[semconv.GenAIResponseFinishReasons].AsStringSlice(); !cmp.Equal(got, []string{"stop"}) {
				t.Errorf("finish reasons = %v", got)
			}

			m := h.metrics(t)
			ttft, ok := m["gen_ai.server.time_to_first_token"].(metricdata.Histogram[float64])
			if !ok || len(ttft.DataPoints) != 1 {
				t.Fatalf("ttft histogram missing: %#v", m["gen_ai.server.time_to_first_token"])
			}
			dp := ttft.DataPoints[0]
			if diff := cmp.Diff(bucketsTTFT, dp.Bounds); diff != "" {
				t.Errorf("ttft buckets (-want +got):\n%s", diff)
			}
			within(t, "ttft histogram sum (ms)", dp.Sum*1000, a[semconv.SLOTTFTMs].AsFloat64(), 0.001)
			// The one TTFT falls in the first bucket whose bound is at least it.
			if i, _ := slices.BinarySearch(bucketsTTFT, a[semconv.SLOTTFTMs].AsFloat64()/1000); dp.BucketCounts[i] != 1 {
				t.Errorf("ttft bucket counts = %v, want 1 at index %d", dp.BucketCounts, i)
			}
			tpot := m["gen_ai.server.time_per_output_token"].(metricdata.Histogram[float64])
			if diff := cmp.Diff(bucketsTPOT, tpot.DataPoints[0].Bounds); diff != "" {
				t.Errorf("tpot buckets (-want +got):\n%s", diff)
			}
			within(t, "tpot histogram sum (ms)", tpot.DataPoints[0].Sum*1000, a[semconv.SLOTPOTMs].AsFloat64(), 0.001)
			dur := m["gen_ai.server.request.duration"].(metricdata.Histogram[float64])
			if diff := cmp.Diff(bucketsDuration, dur.DataPoints[0].Bounds); diff != "" {
				t.Errorf("duration buckets (-want +got):\n%s", diff)
			}
			attrs := dur.DataPoints[0].Attributes
			if v, _ := attrs.Value(semconv.GenAIOperationName); v.AsString() != "chat" {
				t.Errorf("duration attrs = %v", attrs.ToSlice())
			}
		})
	}
}

func TestNonStreamingResponse(t *testing.T) {
	h := newHarness(t, WithObjectives(TTFT(100*time.Millisecond, 0.9), Latency(time.Second, 0.9)))
	srv := httptest.NewServer(h.t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"x","object":"chat.completion","model":"m-2","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}`)
	})))
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	srv.Close()
	a := h.lastSpanAttrs(t)
	if _, ok := a[semconv.SLOTTFTMs]; ok {
		t.Error("TTFT recorded for a non-streaming response")
	}
	if got := a[semconv.GenAIUsageOutputTokens].AsInt64(); got != 3 {
		t.Errorf("output tokens = %d, want 3", got)
	}
	if got := a[semconv.GenAIUsageInputTokens].AsInt64(); got != 7 {
		t.Errorf("input tokens = %d, want 7", got)
	}
	if diff := cmp.Diff([]string{"latency_1s_p90"}, a[semconv.SLOObjective].AsStringSlice()); diff != "" {
		t.Errorf("judged objectives (-want +got):\n%s", diff)
	}
}

func TestHandlerReportsUsage(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(h.t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rq := RequestFrom(r.Context())
		rq.Model("llama-3")
		rq.Provider("vllm")
		rq.Usage(11, 4)
		w.Header().Set("Content-Type", "text/plain")
		f := w.(http.Flusher)
		for _, s := range []string{"a", "b", "c", "d"} {
			io.WriteString(w, s)
			f.Flush()
			time.Sleep(2 * time.Millisecond)
		}
	})))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	srv.Close()
	if string(b) != "abcd" {
		t.Fatalf("body = %q", b)
	}
	a := h.lastSpanAttrs(t)
	for k, want := range map[attribute.Key]any{
		semconv.GenAIRequestModel: "llama-3", semconv.GenAIProviderName: "vllm",
		semconv.GenAIUsageInputTokens: int64(11), semconv.GenAIUsageOutputTokens: int64(4), semconv.SLOTokensEstimated: false,
	} {
		if got := a[k].AsInterface(); got != want {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	if _, ok := a[semconv.SLOTTFTMs]; !ok {
		t.Error("flushed text stream has no TTFT")
	}
}

func TestRequestFromNil(t *testing.T) {
	var r *Request
	r.Model("x")
	r.Usage(1, 2)
	r.Tokens(3)
	r.Provider("p")
	r.Operation("o")
	if RequestFrom(context.Background()) != nil {
		t.Error("RequestFrom on a bare context is not nil")
	}
}

func TestEnrichesOTelHTTPSpan(t *testing.T) {
	h := newHarness(t)
	inner := h.t.Instrument(openAIStream(0, time.Millisecond, 3, 0))
	srv := httptest.NewServer(otelhttp.NewHandler(inner, "chat", otelhttp.WithTracerProvider(h.tp)))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	srv.Close()
	ended := h.spans.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans, want 1 (the otelhttp span, enriched)", len(ended))
	}
	a := h.lastSpanAttrs(t)
	if _, ok := a[semconv.SLOTTFTMs]; !ok {
		t.Error("otelhttp span not enriched with ttft")
	}
}

func TestHonoursIncomingTraceContext(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(h.t.Instrument(openAIStream(0, 0, 1, 0)))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	srv.Close()
	sp := h.spans.Ended()[0]
	if got := sp.SpanContext().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace id %s not continued", got)
	}
	if got := sp.Parent().SpanID().String(); got != "00f067aa0ba902b7" {
		t.Errorf("parent %s", got)
	}
}

func TestHandlerPanicRecorded(t *testing.T) {
	h := newHarness(t, WithObjectives(ErrorRate(0.99)))
	hd := h.t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		panic("boom")
	}))
	rec := httptest.NewRecorder()
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("panic not re-raised: %v", p)
			}
		}()
		hd.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	}()
	a := h.lastSpanAttrs(t)
	if got := a[semconv.ErrorType].AsString(); got != "panic" {
		t.Errorf("error.type = %q", got)
	}
	if a[semconv.SLOGood].AsBool() {
		t.Error("panicking request judged good")
	}
	b := h.t.Budget()[0]
	if b.Total != 1 || b.Good != 0 {
		t.Errorf("budget counts %d/%d, want 0/1", b.Good, b.Total)
	}
}

func TestHijack(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(h.t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\nhello")
		rw.Flush()
	})))
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "hello" {
		t.Errorf("hijacked bytes %q", rest)
	}
	srv.Close() // does not wait for hijacked connections: poll
	deadline := time.Now().Add(5 * time.Second)
	for h.t.Status().Requests != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := h.t.Status().Requests; n != 1 {
		t.Errorf("requests recorded = %d, want 1", n)
	}
}

type flushRecorder struct {
	*httptest.ResponseRecorder
	readFrom int
}

func (f *flushRecorder) ReadFrom(r io.Reader) (int64, error) {
	f.readFrom++
	return io.Copy(f.ResponseRecorder, r)
}

func TestOptionalInterfacesPassThrough(t *testing.T) {
	h := newHarness(t)
	inner := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
	var sawFlusher, sawReaderFrom, sawHijacker bool
	hd := h.t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, sawFlusher = w.(http.Flusher)
		_, sawHijacker = w.(http.Hijacker)
		var rf io.ReaderFrom
		rf, sawReaderFrom = w.(io.ReaderFrom)
		if sawReaderFrom {
			rf.ReadFrom(strings.NewReader("file bytes"))
		}
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController.Flush: %v", err)
		}
	}))
	hd.ServeHTTP(inner, httptest.NewRequest("GET", "/", nil))
	if !sawFlusher || !sawReaderFrom || sawHijacker {
		t.Errorf("flusher=%v readerFrom=%v hijacker=%v; want true true false", sawFlusher, sawReaderFrom, sawHijacker)
	}
	if inner.readFrom != 1 || inner.Body.String() != "file bytes" || !inner.Flushed {
		t.Errorf("ReadFrom calls=%d body=%q flushed=%v", inner.readFrom, inner.Body.String(), inner.Flushed)
	}
	a := h.lastSpanAttrs(t)
	if _, ok := a[semconv.SLOTTFBMs]; !ok {
		t.Error("ReadFrom bytes gave no TTFB")
	}
}

func TestClientDisconnectMidStream(t *testing.T) {
	h := newHarness(t, WithObjectives(ErrorRate(0.99)))
	started := make(chan struct{})
	done := make(chan struct{})
	srv := httptest.NewServer(h.t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 500; i++ {
			if _, err := fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n"); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			if i == 0 {
				close(started)
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	cancel()
	resp.Body.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("handler did not notice the disconnect")
	}
	srv.Close()
	a := h.lastSpanAttrs(t)
	if !a[semconv.SLOCancelled].AsBool() {
		t.Error("disconnect not marked cancelled")
	}
	if _, ok := a[semconv.SLOTTFTMs]; !ok {
		t.Error("TTFT of the delivered part lost")
	}
	if b := h.t.Budget()[0]; b.Total != 0 {
		t.Errorf("a cancelled request was judged: %+v", b)
	}
}

func TestPrometheusMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	h := newHarness(t, WithRegisterer(reg), WithObjectives(TTFT(time.Second, 0.99)))
	srv := httptest.NewServer(h.t.Instrument(openAIStream(5*time.Millisecond, time.Millisecond, 5, 5)))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	srv.Close()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, want := range []string{"gen_ai_server_time_to_first_token_seconds", "gen_ai_server_time_per_output_token_seconds",
		"gen_ai_server_request_duration_seconds", "llm_slo_requests_total", "llm_slo_burn_rate", "llm_slo_error_budget_remaining"} {
		if !names[want] {
			t.Errorf("metric %s missing (have %v)", want, names)
		}
	}
	if err := h.t.Close(); err != nil {
		t.Fatal(err)
	}
	if mfs, _ := reg.Gather(); len(mfs) != 0 {
		t.Errorf("Close left %d metric families registered", len(mfs))
	}
}

func TestCloseIdempotent(t *testing.T) {
	tr, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}

}

// TestRealServerInterfaces checks the dedicated wrappers against what net/http
// itself hands to handlers over HTTP/1 and HTTP/2.
func TestRealServerInterfaces(t *testing.T) {
	h := newHarness(t)
	type seen struct{ flusher, hijacker, readerFrom, pusher, closeNotifier bool }
	for _, tc := range []struct {
		name  string
		http2 bool
		want  seen
	}{
		{"http1", false, seen{flusher: true, hijacker: true, readerFrom: true, closeNotifier: true}},
		{"http2", true, seen{flusher: true, pusher: true, closeNotifier: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got, orig seen
			probe := func(w http.ResponseWriter, s *seen) {
				_, s.flusher = w.(http.Flusher)
				_, s.hijacker = w.(http.Hijacker)
				_, s.readerFrom = w.(io.ReaderFrom)
				_, s.pusher = w.(http.Pusher)
				_, s.closeNotifier = w.(http.CloseNotifier) //nolint:staticcheck // checking it is preserved
			}
			inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				probe(w, &got)
				rc := http.NewResponseController(w)
				if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
					t.Errorf("ResponseController.SetWriteDeadline through the wrapper: %v", err)
				}
				io.WriteString(w, "data: x\n\n")
				if err := rc.Flush(); err != nil {
					t.Error(err)
				}
			})
			outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				probe(w, &orig)
				h.t.Instrument(inner).ServeHTTP(w, r)
			})
			srv := httptest.NewUnstartedServer(outer)
			srv.EnableHTTP2 = tc.http2
			srv.StartTLS()
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "data: x\n\n" || resp.ProtoMajor != map[bool]int{false: 1, true: 2}[tc.http2] {
				t.Fatalf("proto %s body %q", resp.Proto, body)
			}
			if orig != tc.want {
				t.Fatalf("net/http's writer has %+v, test expects %+v", orig, tc.want)
			}
			if got != orig {
				t.Errorf("wrapped writer has %+v, original %+v", got, orig)
			}
		})
	}
}

// TestCloseLeavesNoGoroutines: a tracker that served requests, with its
// default kernel path (probes where they load) and a webhook sink, leaves no
// goroutine behind after Close.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	defer testutil.CheckGoroutines(t, 5*time.Second)()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()
	sink, err := incident.NewWebhookSink(hook.URL, incident.WebhookOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(WithObjectives(ErrorRate(0.99)), WithIncidentSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	h := tr.Instrument(openAIStream(0, 0, 3, 3))
	for range 5 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil))
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	hook.Close()
	http.DefaultClient.CloseIdleConnections()
}
