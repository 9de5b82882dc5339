package slo

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmslo/slo/internal/providertest"
	openai "github.com/openai/openai-go/v3"
	openaiopt "github.com/openai/openai-go/v3/option"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// benchProviders are an SDK tracer provider (every span sampled and
// processed by a no-op processor) and meter provider, shared by otelhttp and
// llmslo so that both pay the same export-side costs.
func benchProviders(b *testing.B) (*sdktrace.TracerProvider, *sdkmetric.MeterProvider) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(noopProcessor{}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return tp, mp
}

type noopProcessor struct{}

func (noopProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (noopProcessor) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (noopProcessor) Shutdown(context.Context) error                  { return nil }
func (noopProcessor) ForceFlush(context.Context) error                { return nil }

// benchTransports returns the three implementations compared: the bare
// base transport, otelhttp.NewTransport and Tracker.Transport.
func benchTransports(b *testing.B, base http.RoundTripper) []struct {
	name string
	rt   http.RoundTripper
} {
	tp, mp := benchProviders(b)
	tr, err := New(WithTracerProvider(tp), WithMeterProvider(mp), WithPropagators(propagation.TraceContext{}),
		WithoutProbes())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tr.Close() })
	return []struct {
		name string
		rt   http.RoundTripper
	}{
		{"bare", base},
		{"otelhttp", otelhttp.NewTransport(base, otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(mp))},
		{"llmslo", tr.Transport(base)},
	}
}

// inmemTransport answers requests by calling a handler in process: no
// network, so that a benchmark shows the wrappers' own cost.
type inmemTransport struct{ h http.Handler }

func (t inmemTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// BenchmarkTransport drives openai-go through each implementation against
// a local provider: op=call is a non-streamed chat completion, op=stream a
// streamed one of 64 chunks (ns/chunk reported), over loopback TCP; the
// net=inmem variants answer in process, without network, to isolate the
// wrappers' cost from the loopback's noise.
func BenchmarkTransport(b *testing.B) {
	const chunks = 64
	srv := providertest.NewServer(providertest.Always(providertest.Response{Chunks: chunks}))
	defer srv.Close()
	tcp := http.DefaultTransport.(*http.Transport).Clone()
	tcp.MaxIdleConnsPerHost = 16
	defer tcp.CloseIdleConnections()
	params := openai.ChatCompletionNewParams{Model: "m",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	for _, net := range []string{"tcp", "inmem"} {
		var base http.RoundTripper = tcp
		if net == "inmem" {
			base = inmemTransport{srv.Handler}
		}
		for _, op := range []string{"call", "stream"} {
			for _, impl := range benchTransports(b, base) {
				b.Run("net="+net+"/op="+op+"/impl="+impl.name, func(b *testing.B) {
					client := openai.NewClient(openaiopt.WithBaseURL(srv.URL+"/v1/"), openaiopt.WithAPIKey("k"),
						openaiopt.WithHTTPClient(&http.Client{Transport: impl.rt}), openaiopt.WithMaxRetries(0))
					ctx := context.Background()
					b.ReportAllocs()
					for b.Loop() {
						if op == "call" {
							if _, err := client.Chat.Completions.New(ctx, params); err != nil {
								b.Fatal(err)
							}
							continue
						}
						s := client.Chat.Completions.NewStreaming(ctx, params)
						for s.Next() {
						}
						if err := s.Err(); err != nil {
							b.Fatal(err)
						}
						s.Close()
					}
					if op == "stream" {
						b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/chunks, "ns/chunk")
					}
				})
			}
		}
	}
}

// chunkBody yields one OpenAI chat-completion SSE event per Read, forever.
type chunkBody struct{ ev []byte }

func (c *chunkBody) Read(p []byte) (int, error) { return copy(p, c.ev), nil }
func (c *chunkBody) Close() error               { return nil }

// BenchmarkTransportChunk measures the cost of one streamed chunk read
// through each implementation's response body, with no network: the
// per-chunk overhead and allocations of the body wrappers (llmslo in each
// GenAI conventions mode: v1.41.0, latest, both).
func BenchmarkTransportChunk(b *testing.B) {
	ev := []byte(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"tok "},"finish_reason":null}]}` + "\n\n")
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
			Body: &chunkBody{ev: ev}, ContentLength: -1, Request: r}, nil
	})
	impls := benchTransports(b, base)
	for _, m := range []struct {
		name string
		sc   Semconv
	}{{"llmslo-latest", SemconvLatest}, {"llmslo-dup", SemconvDup}} {
		tp, mp := benchProviders(b)
		tr, err := New(WithTracerProvider(tp), WithMeterProvider(mp), WithPropagators(propagation.TraceContext{}),
			WithoutProbes(), WithSemconv(m.sc))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = tr.Close() })
		impls = append(impls, struct {
			name string
			rt   http.RoundTripper
		}{m.name, tr.Transport(base)})
	}
	for _, impl := range impls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			req, _ := http.NewRequest("POST", "http://127.0.0.1:1/v1/chat/completions",
				strings.NewReader(`{"model":"m","stream":true}`))
			resp, err := impl.rt.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 4096)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := resp.Body.Read(buf); err != nil && err != io.EOF {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			resp.Body.Close()
		})
	}
}
