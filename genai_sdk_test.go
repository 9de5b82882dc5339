package slo

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/llmslo/slo/internal/providertest"
	"github.com/llmslo/slo/semconv"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestSemconvSDK drives the real SDKs (openai-go, anthropic-sdk-go,
// go-openai, langchaingo), streaming and not, against a local provider that
// reports cache and reasoning tokens, in each GenAI conventions mode: the
// SDKs' output is the same as without the transport; the token metrics
// carry exactly what the provider reported (none of the v1.41.0 inference
// metrics in the latest mode); and the per-chunk histogram holds one value
// per output chunk after the first, each within the gap the wire truths
// allow between the Reads that completed the two chunks.
func TestSemconvSDK(t *testing.T) {
	const (
		chunks                        = 6
		gap                           = 5 * time.Millisecond
		in, cacheRead, cacheWrite, rs = 21, 5, 3, 4
	)
	for _, tc := range sdkCases {
		for _, m := range semconvModes {
			t.Run(tc.name+"/"+m.name, func(t *testing.T) {
				srv := providertest.NewServer(providertest.Always(providertest.Response{
					Prefill: gap, Gap: gap, Chunks: chunks, InputTokens: in, OutputTokens: chunks, NoUsage: tc.noUsage,
					CacheReadTokens: cacheRead, CacheWriteTokens: cacheWrite, ReasoningTokens: rs}))
				defer srv.Close()
				ctx := context.Background()
				bare, err := tc.call(ctx, srv.URL, &http.Client{})
				if err != nil {
					t.Fatalf("without transport: %v", err)
				}
				h, tap, reg := newTapHarness(t, m.sc)
				var wire wireTruth
				got, err := tc.call(ctx, srv.URL, &http.Client{Transport: h.t.Transport(wire.wrap(http.DefaultTransport))})
				callEnd := time.Now()
				if err != nil {
					t.Fatalf("with transport: %v", err)
				}
				if diff := cmp.Diff(bare, got); diff != "" {
					t.Errorf("SDK output differs with the transport (-without +with):\n%s", diff)
				}
				span := h.lastClientSpan(t)
				w := sdkUsage(tc.dialect, tc.noUsage, in, chunks, cacheRead, cacheWrite, rs)
				checkClientUsage(t, h, reg, m.sc, w)
				checkSpanUsage(t, span, m.sc, w, "client")
				if !tc.stream {
					return
				}
				sep := "\n\n"
				if tc.dialect == "ollama" {
					sep = "\n"
				}
				checkChunkGaps(t, h, tap, m.sc, &wire, callEnd, chunks, sep)
				a := attrMap(span)
				ttfc, ok := a[semconv.GenAIResponseTimeToFirstChunk]
				if ok != (m.sc&SemconvLatest != 0) {
					t.Errorf("%s present = %v", semconv.GenAIResponseTimeToFirstChunk, ok)
				} else if ok && math.Abs(ttfc.AsFloat64()*1000-a[semconv.SLOTTFTMs].AsFloat64()) > 1e-6 {
					t.Errorf("time_to_first_chunk %v s, ttft %v ms", ttfc.AsFloat64(), a[semconv.SLOTTFTMs].AsFloat64())
				}
			})
		}
	}
}

// sdkUsage is the usage providertest reports in a dialect: Ollama reports
// no cache or reasoning counts, OpenAI no cache writes, Anthropic no
// reasoning count; without usage the counters count 0 and nothing else.
func sdkUsage(dialect string, noUsage bool, in, out, cacheRead, cacheWrite, reasoning int64) usageWant {
	switch {
	case noUsage:
		return usageWant{0, 0, -1, -1, -1, true}
	case dialect == "ollama":
		return usageWant{in, out, -1, -1, -1, false}
	case dialect == "anthropic":
		return usageWant{in, out, cacheRead, cacheWrite, -1, false}
	}
	return usageWant{in, out, cacheRead, -1, reasoning, false}
}

// checkChunkGaps checks the per-chunk histograms of one streamed call:
// chunks−1 values, the i-th within [lo_i − hi_{i−1}, hi_i − lo_{i−1}] where
// [lo_i, hi_i] is the window (wireTruth.window) of the Read that completed
// output chunk i ("tok<i> " and its frame end sep); the SDK's data point
// holds the same count and sum; in dup mode both histograms hold the same
// values.
func checkChunkGaps(t *testing.T, h *harness, tap *tapProvider, sc Semconv, w *wireTruth, callEnd time.Time, chunks int, sep string) {
	t.Helper()
	w.mu.Lock()
	lo, hi := make([]time.Time, chunks), make([]time.Time, chunks)
	for i := range chunks {
		at := bytes.Index(w.data, fmt.Appendf(nil, "tok%d ", i))
		end := bytes.Index(w.data[max(at, 0):], []byte(sep))
		if at < 0 || end < 0 {
			w.mu.Unlock()
			t.Fatalf("output chunk %d not on the wire", i)
		}
		lo[i], hi[i] = w.window(w.readOf(at+end+len(sep)), callEnd)
	}
	w.mu.Unlock()
	names := map[Semconv]string{SemconvLatest: semconv.MetricClientInferenceTimePerOutputChunk,
		SemconvV141: "gen_ai.client.operation.time_per_output_chunk"}
	var seen [][]float64
	for bit, name := range names {
		vals := tap.values(name)
		if sc&bit == 0 {
			if len(vals) != 0 {
				t.Errorf("%s recorded %d values in this mode", name, len(vals))
			}
			continue
		}
		seen = append(seen, vals)
		if len(vals) != chunks-1 {
			t.Errorf("%s: %d values, want %d (output chunks − 1)", name, len(vals), chunks-1)
			continue
		}
		sum := 0.0
		for i, v := range vals {
			min, max := lo[i+1].Sub(hi[i]).Seconds(), hi[i+1].Sub(lo[i]).Seconds()
			if v < min || v > max {
				t.Errorf("%s value %d = %.6f s, want within the truth [%.6f, %.6f]", name, i, v, min, max)
			}
			sum += v
		}
		p := h.histPoints(t, name)
		if len(p) != 1 || p[0].Count != uint64(chunks-1) || p[0].Sum != sum {
			t.Errorf("%s data point = %+v, want count %d sum %v", name, p, chunks-1, sum)
		}
	}
	if len(seen) == 2 && !cmp.Equal(seen[0], seen[1]) {
		t.Errorf("the two per-chunk histograms differ: %v, %v", seen[0], seen[1])
	}
	if sc&SemconvLatest != 0 {
		m := h.metrics(t)
		if b, ok := m[semconv.MetricClientInferenceTimePerOutputChunk].(metricdata.Histogram[float64]); !ok ||
			!cmp.Equal(b.DataPoints[0].Bounds, bucketsDuration) {
			t.Errorf("per-chunk histogram bounds: %+v", m[semconv.MetricClientInferenceTimePerOutputChunk])
		}
	}
}
