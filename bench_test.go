package slo

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/llmslo/slo/internal/testutil"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// discardWriter is a minimal ResponseWriter + Flusher that keeps nothing, so
// the benchmarks measure instrumentation, not buffering.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Flush()                      {}

var benchChunk = []byte("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" token\"},\"finish_reason\":null}]}\n\n")

// benchChunks are the ten OpenAI chunks of one stream: the same id, created
// and model, a different token each, as a real stream sends them.
var benchChunks = func() [][]byte {
	var out [][]byte
	for _, tok := range []string{"The", " sky", " is", " blue", " today", ",", " and", " the", " sun", " shines"} {
		out = append(out, bytes.Replace(benchChunk, []byte(" token"), []byte(tok), 1))
	}
	return out
}()

// sse10 streams ten OpenAI chunks and [DONE]: a small but real response.
var sse10 = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	f := w.(http.Flusher)
	for _, c := range benchChunks {
		w.Write(c)
		f.Flush()
	}
	io.WriteString(w, "data: [DONE]\n\n")
})

func benchSDK(b *testing.B) (*sdktrace.TracerProvider, *sdkmetric.MeterProvider) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() {
		tp.Shutdown(context.Background())
		mp.Shutdown(context.Background())
	})
	return tp, mp
}

// BenchmarkServer compares, side by side in one run, the per-request cost of
// a bare handler, otelhttp.NewHandler, Instrument (everything on: objectives,
// metrics, spans, kernel correlation where probes load), Instrument without
// probes, and otelhttp and Instrument stacked, with the same OpenTelemetry
// SDK (always sampling, metrics to a manual reader). Besides ns/op it reports
// cpu-ns/op, the process CPU time per request, which a shared machine's load
// does not inflate.
func BenchmarkServer(b *testing.B) {
	tp, mp := benchSDK(b)
	tr, err := New(WithTracerProvider(tp), WithMeterProvider(mp), WithPropagators(propagation.TraceContext{}),
		WithObjectives(TTFT(500*time.Millisecond, 0.99), TPOT(50*time.Millisecond, 0.99), ErrorRate(0.999)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tr.Close() })
	noProbes, err := New(WithTracerProvider(tp), WithMeterProvider(mp), WithPropagators(propagation.TraceContext{}), WithoutProbes(),
		WithObjectives(TTFT(500*time.Millisecond, 0.99), TPOT(50*time.Millisecond, 0.99), ErrorRate(0.999)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { noProbes.Close() })
	impls := []struct {
		name string
		h    http.Handler
	}{
		{"bare", sse10},
		{"otelhttp", otelhttp.NewHandler(sse10, "chat", otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(mp))},
		{"llmslo", tr.Instrument(sse10)},
		{"llmslo_noprobes", noProbes.Instrument(sse10)},
		{"otelhttp+llmslo", otelhttp.NewHandler(tr.Instrument(sse10), "chat", otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(mp))},
	}
	for _, impl := range impls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			req := httptest.NewRequest("POST", "/v1/chat/completions", nil)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			cpu := testutil.StartCPU(b)
			for b.Loop() {
				clear(w.h)
				impl.h.ServeHTTP(w, req)
			}
			cpu.Stop()
		})
	}
}

// BenchmarkStreamChunk measures the cost of one streamed chunk through
// Instrument: one request writes b.N chunks (the ten of benchChunks in
// turn), so per-request costs vanish from ns/op and allocs/op.
func BenchmarkStreamChunk(b *testing.B) {
	tp, mp := benchSDK(b)
	tr, err := New(WithTracerProvider(tp), WithMeterProvider(mp))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tr.Close() })
	for _, impl := range []struct {
		name string
		wrap func(http.Handler) http.Handler
	}{
		{"bare", func(h http.Handler) http.Handler { return h }},
		{"llmslo", tr.Instrument},
	} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			h := impl.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				f := w.(http.Flusher)
				b.ReportAllocs()
				b.SetBytes(int64(len(benchChunk)))
				b.ResetTimer()
				cpu := testutil.StartCPU(b)
				for n := range b.N {
					w.Write(benchChunks[n%len(benchChunks)])
					f.Flush()
				}
				cpu.Stop()
				b.StopTimer()
			}))
			h.ServeHTTP(&discardWriter{h: http.Header{}}, httptest.NewRequest("POST", "/", nil))
		})
	}
}
