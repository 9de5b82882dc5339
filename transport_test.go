package slo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/llmslo/slo/internal/providertest"
	"github.com/llmslo/slo/semconv"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// clientSpans returns the ended client spans, oldest first.
func (h *harness) clientSpans() []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range h.spans.Ended() {
		if s.SpanKind() == trace.SpanKindClient {
			out = append(out, s)
		}
	}
	return out
}

// lastClientSpan waits briefly for a client span to end (a body may be
// finished on another goroutine) and returns the last one.
func (h *harness) lastClientSpan(tb testing.TB) sdktrace.ReadOnlySpan {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		if s := h.clientSpans(); len(s) > 0 {
			return s[len(s)-1]
		}
		if time.Now().After(deadline) {
			tb.Fatal("no client span ended")
		}
		time.Sleep(time.Millisecond)
	}
}

func attrMap(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	out := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		out[kv.Key] = kv.Value
	}
	return out
}

// wireTruth records, under the transport being tested, when the response
// body's bytes were handed up to it: the RoundTrip's entry, each Read's
// entry and return, and the Close. The transport timestamps what it reads
// between the return of the Read that brought the bytes and the entry of
// the next one (or the Close, or the call's return): truths taken where
// the events happen, which no load can move.
type wireTruth struct {
	mu     sync.Mutex
	rt     time.Time // RoundTrip entered
	reads  []readAt
	closed time.Time
	data   []byte
}

// readAt is one Read of the response body: its entry and return, and the
// bytes read so far at its return.
type readAt struct {
	entry, ret time.Time
	end        int
}

// wrap returns base with its RoundTrip and response bodies recorded in w.
func (w *wireTruth) wrap(base http.RoundTripper) http.RoundTripper { return wireRT{base, w} }

type wireRT struct {
	base http.RoundTripper
	w    *wireTruth
}

func (t wireRT) RoundTrip(r *http.Request) (*http.Response, error) {
	t.w.mu.Lock()
	t.w.rt = time.Now()
	t.w.mu.Unlock()
	resp, err := t.base.RoundTrip(r)
	if resp != nil {
		resp.Body = &wireBody{rc: resp.Body, w: t.w}
	}
	return resp, err
}

type wireBody struct {
	rc io.ReadCloser
	w  *wireTruth
}

func (b *wireBody) Read(p []byte) (int, error) {
	entry := time.Now()
	n, err := b.rc.Read(p)
	ret := time.Now()
	b.w.mu.Lock()
	b.w.data = append(b.w.data, p[:n]...)
	b.w.reads = append(b.w.reads, readAt{entry: entry, ret: ret, end: len(b.w.data)})
	b.w.mu.Unlock()
	return n, err
}

func (b *wireBody) Close() error {
	b.w.mu.Lock()
	if b.w.closed.IsZero() {
		b.w.closed = time.Now()
	}
	b.w.mu.Unlock()
	return b.rc.Close()
}

// readOf returns the index of the Read that brought byte offset off−1 (the
// read after which off bytes had arrived); -1 when none did.
func (w *wireTruth) readOf(off int) int {
	for i, r := range w.reads {
		if r.end >= off {
			return i
		}
	}
	return -1
}

// window returns when the transport can have timestamped the bytes of Read
// i: from that Read's return to the next Read's entry, the Close, or end
// (the call's return), whichever came first.
func (w *wireTruth) window(i int, end time.Time) (lo, hi time.Time) {
	lo, hi = w.reads[i].ret, end
	if i+1 < len(w.reads) {
		hi = w.reads[i+1].entry
	} else if !w.closed.IsZero() && w.closed.Before(hi) {
		hi = w.closed
	}
	return lo, hi
}

// lastRead is the index of the last Read that brought bytes.
func (w *wireTruth) lastRead() int {
	for i := len(w.reads) - 1; i > 0; i-- {
		if w.reads[i].end > w.reads[i-1].end {
			return i
		}
	}
	return 0
}

// callTiming checks a client span's E2E and, for a stream of chunks output
// chunks framed by sep, its TTFT and TPOT against the intervals the truths
// allow: the call started between callStart (before the SDK was called)
// and w.rt; the first output chunk was timestamped in the window of the
// Read that completed its frame (the one carrying "tok0"), the end in that
// of the last Read with bytes. It returns what lies outside, and a note.
func callTiming(span sdktrace.ReadOnlySpan, w *wireTruth, callStart, callEnd time.Time, chunks int, sep string) (errs []string, note string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a := attrMap(span)
	check := func(name string, got float64, lo, hi time.Duration) {
		if got < durMs(lo)-0.001 || got > durMs(hi)+0.001 {
			errs = append(errs, fmt.Sprintf("%s = %.3f, want within the truth [%.3f, %.3f]", name, got, durMs(lo), durMs(hi)))
		}
	}
	if len(w.reads) == 0 {
		return []string{"the body was never read"}, ""
	}
	endLo, endHi := w.window(w.lastRead(), callEnd)
	e2e := a[semconv.SLOE2EMs].AsFloat64()
	check("e2e_ms", e2e, endLo.Sub(w.rt), endHi.Sub(callStart))
	note = fmt.Sprintf("e2e %.2f ms", e2e)
	if sep == "" {
		return errs, note
	}
	i := bytes.Index(w.data, []byte("tok0"))
	j := bytes.Index(w.data[max(i, 0):], []byte(sep))
	if i < 0 || j < 0 {
		return append(errs, "no complete first output chunk on the wire"), note
	}
	firstLo, firstHi := w.window(w.readOf(i+j+len(sep)), callEnd)
	ttft, tpot := a[semconv.SLOTTFTMs].AsFloat64(), a[semconv.SLOTPOTMs].AsFloat64()
	check("ttft_ms", ttft, firstLo.Sub(w.rt), firstHi.Sub(callStart))
	check("tpot_ms", tpot, endLo.Sub(firstHi)/time.Duration(chunks-1), endHi.Sub(firstLo)/time.Duration(chunks-1))
	return errs, fmt.Sprintf("%s, ttft %.2f ms, tpot %.3f ms", note, ttft, tpot)
}

func wantAttrs(t *testing.T, span sdktrace.ReadOnlySpan, want map[attribute.Key]any) {
	t.Helper()
	a := attrMap(span)
	for k, w := range want {
		v, ok := a[k]
		if !ok {
			t.Errorf("%s missing", k)
			continue
		}
		if diff := cmp.Diff(w, v.AsInterface()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}
}

func noAttrs(t *testing.T, span sdktrace.ReadOnlySpan, keys ...attribute.Key) {
	t.Helper()
	a := attrMap(span)
	for _, k := range keys {
		if v, ok := a[k]; ok {
			t.Errorf("%s = %v, want absent", k, v.Emit())
		}
	}
}

// histogram returns the single data point of a float64 histogram.
func (h *harness) histPoints(t *testing.T, name string) []metricdata.HistogramDataPoint[float64] {
	t.Helper()
	m := h.metrics(t)
	hist, ok := m[name].(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("metric %s missing: %#v", name, m[name])
	}
	return hist.DataPoints
}

func TestTransportNilBaseAndTracker(t *testing.T) {
	var nilT *Tracker
	if got := nilT.Transport(nil); got != http.DefaultTransport {
		t.Errorf("nil tracker, nil base = %T, want http.DefaultTransport", got)
	}
	h := newHarness(t)
	tr := h.t.Transport(nil).(*transport)
	if tr.base != http.DefaultTransport {
		t.Errorf("base = %T", tr.base)
	}
}

func TestClassifyRequest(t *testing.T) {
	for _, tc := range []struct {
		host     string
		port     int
		path     string
		header   http.Header
		provider string
		op       string
		dialect  string
	}{
		{"api.openai.com", 443, "/v1/chat/completions", nil, "openai", "chat", "openai_chat"},
		{"api.openai.com", 443, "/v1/responses", nil, "openai", "chat", "openai_responses"},
		{"api.openai.com", 443, "/v1/embeddings", nil, "openai", "embeddings", "unknown"},
		{"api.anthropic.com", 443, "/v1/messages", nil, "anthropic", "chat", "anthropic"},
		{"127.0.0.1", 8080, "/v1/messages", http.Header{"Anthropic-Version": {"2023-06-01"}}, "anthropic", "chat", "anthropic"},
		{"localhost", 11434, "/api/chat", nil, "ollama", "chat", "ollama"},
		{"localhost", 11434, "/v1/chat/completions", nil, "ollama", "chat", "openai_chat"},
		{"ollama.internal", 80, "/api/generate", nil, "ollama", "generate_content", "ollama"},
		{"vllm.internal", 8000, "/v1/chat/completions", nil, "openai", "chat", "openai_chat"},
		{"litellm", 4000, "/chat/completions", nil, "openai", "chat", "openai_chat"},
		{"x.openai.azure.com", 443, "/openai/deployments/d/chat/completions", nil, "azure.ai.openai", "chat", "openai_chat"},
		{"example.com", 443, "/search", nil, "", "chat", "unknown"},
	} {
		h := tc.header
		if h == nil {
			h = http.Header{}
		}
		p, op, d := classifyRequest(tc.host, tc.port, tc.path, h)
		if p != tc.provider || op != tc.op || d.String() != tc.dialect {
			t.Errorf("classifyRequest(%s:%d%s) = %q, %q, %s; want %q, %q, %s", tc.host, tc.port, tc.path, p, op, d, tc.provider, tc.op, tc.dialect)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{"Retry-After": {"2"}}, 2 * time.Second},
		{http.Header{"Retry-After": {"0.5"}}, 500 * time.Millisecond},
		{http.Header{"Retry-After-Ms": {"150"}, "Retry-After": {"1"}}, 150 * time.Millisecond},
		{http.Header{"Retry-After": {now.Add(3 * time.Second).Format(http.TimeFormat)}}, 3 * time.Second},
		{http.Header{"Retry-After": {"-1"}}, 0},
		{http.Header{"Retry-After": {"soon"}}, 0},
		{http.Header{"Retry-After": {"999999999"}}, 24 * time.Hour},
		{http.Header{}, 0},
	} {
		if got := parseRetryAfter(tc.h, now); got != tc.want {
			t.Errorf("parseRetryAfter(%v) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

// TestRequestBodyRestored checks that a body without GetBody is peeked and
// replayed byte for byte, and that one with GetBody is not touched.
func TestRequestBodyRestored(t *testing.T) {
	var got [][]byte
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, b)
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}, Request: r}, nil
	})
	h := newHarness(t)
	tr := h.t.Transport(base)
	big := `{"model":"m","stream":true,"messages":"` + strings.Repeat("x", 100<<10) + `"}`
	for _, body := range []string{`{"model":"m"}`, big} {
		// Without GetBody.
		req, _ := http.NewRequest("POST", "http://h/v1/chat/completions", io.NopCloser(strings.NewReader(body)))
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		// With GetBody.
		req, _ = http.NewRequest("POST", "http://h/v1/chat/completions", bytes.NewReader([]byte(body)))
		resp, err = tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	want := [][]byte{[]byte(`{"model":"m"}`), []byte(`{"model":"m"}`), []byte(big), []byte(big)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bodies (-want +got):\n%s", diff)
	}
	for _, s := range h.clientSpans() {
		if got := attrMap(s)[semconv.GenAIRequestModel].AsString(); got != "m" {
			t.Errorf("request model = %q", got)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestStreamingAbandoned checks that a body closed mid-stream is recorded as
// cancelled, and that a context cancelled with the body never read or
// closed is too.
func TestStreamingAbandoned(t *testing.T) {
	srv := providertest.NewServer(providertest.Always(providertest.Response{Chunks: 50, Gap: 5 * time.Millisecond}))
	defer srv.Close()
	h := newHarness(t)
	client := &http.Client{Transport: h.t.Transport(nil)}

	req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m","stream":true}`))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	resp.Body.Read(buf)
	resp.Body.Close()
	wantAttrs(t, h.lastClientSpan(t), map[attribute.Key]any{semconv.SLOCancelled: true})

	ctx, cancel := context.WithCancel(context.Background())
	req, _ = http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m2","stream":true}`))
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	cancel() // the body is neither read nor closed
	deadline := time.Now().Add(2 * time.Second)
	for len(h.clientSpans()) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	s := h.clientSpans()
	if len(s) != 2 {
		t.Fatalf("abandoned body not recorded: %d client spans", len(s))
	}
	wantAttrs(t, s[1], map[attribute.Key]any{semconv.SLOCancelled: true, semconv.GenAIRequestModel: "m2"})
	resp.Body.Close()
	if len(h.clientSpans()) != 2 {
		t.Error("record finished twice")
	}
}

// TestTransportPrometheus checks the Prometheus mirrors of the client
// metrics, and that Close unregisters them.
func TestTransportPrometheus(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, WithRegisterer(reg))
	srv := providertest.NewServer(providertest.Always(providertest.Response{Chunks: 4}))
	defer srv.Close()
	client := &http.Client{Transport: h.t.Transport(nil)}
	req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m","stream":true}`))
	req.Header.Set("X-Stainless-Retry-Count", "1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if hst := m.GetHistogram(); hst != nil {
				got[mf.GetName()] += hst.GetSampleCount()
			} else if c := m.GetCounter(); c != nil {
				got[mf.GetName()] += uint64(c.GetValue())
			}
		}
	}
	for name, want := range map[string]uint64{
		"gen_ai_client_operation_duration_seconds":              1,
		"gen_ai_client_operation_time_to_first_chunk_seconds":   1,
		"gen_ai_client_operation_time_per_output_chunk_seconds": 3,
		"gen_ai_client_token_usage_tokens":                      2,
		"llm_slo_client_time_to_first_byte_seconds":             1,
		"llm_slo_client_connect_duration_seconds":               1,
		"llm_slo_client_retries_total":                          1,
	} {
		if got[name] != want {
			t.Errorf("%s = %d, want %d", name, got[name], want)
		}
	}
	h.t.Close()
	mfs, _ = reg.Gather()
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "gen_ai_client") || strings.HasPrefix(mf.GetName(), "llm_slo_client") {
			t.Errorf("%s still registered after Close", mf.GetName())
		}
	}
}

// TestStreamDropped checks that a stream the caller drops without reading
// it to the end or closing it, under a context that never ends, is still
// recorded (as cancelled) once the body is garbage.
func TestStreamDropped(t *testing.T) {
	srv := providertest.NewServer(providertest.Always(providertest.Response{Chunks: 20, Gap: 5 * time.Millisecond}))
	defer srv.Close()
	h := newHarness(t)
	base := http.DefaultTransport.(*http.Transport).Clone()
	defer base.CloseIdleConnections()
	func() {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"dropped","stream":true}`))
		resp, err := h.t.Transport(base).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Read(make([]byte, 64))
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(h.clientSpans()) == 0 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	s := h.clientSpans()
	if len(s) != 1 {
		t.Fatalf("%d client spans after the body was dropped", len(s))
	}
	wantAttrs(t, s[0], map[attribute.Key]any{semconv.SLOCancelled: true, semconv.GenAIRequestModel: "dropped"})
}
