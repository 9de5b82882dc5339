package slo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/llmslo/slo/internal/stream"
	"github.com/llmslo/slo/semconv"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Semconv selects the GenAI semantic conventions the tracker emits on the
// client side (docs/design.md §5). The GenAI conventions left the
// OpenTelemetry semantic-conventions repository after v1.41.0 for
// open-telemetry/semantic-conventions-genai, which renames and replaces the
// client metrics; instrumentations keep their old names by default and emit
// the new ones when asked.
//
// The server side keeps gen_ai.server.* in every mode.
type Semconv uint8

const (
	// SemconvV141 emits the v1.41.0 names ([semconv.GenAISchemaVersion]):
	// gen_ai.client.operation.duration, .time_to_first_chunk and
	// .time_per_output_chunk, gen_ai.client.token.usage, and
	// gen_ai.usage.cache_creation.input_tokens on spans. The default.
	SemconvV141 Semconv = 1 << iota
	// SemconvLatest emits the latest experimental names
	// ([semconv.GenAILatestVersion]) instead: for inference calls,
	// gen_ai.client.inference.duration, .time_to_first_chunk and
	// .time_per_output_chunk, the gen_ai.client.inference.usage.* counters
	// (input, output, cache read, cache write, reasoning; by
	// gen_ai.token.modality) and the gen_ai.client.inference.operation.*
	// token histograms; gen_ai.usage.cache_write.input_tokens and
	// gen_ai.response.time_to_first_chunk on spans. Calls that are not
	// inference (embeddings) keep gen_ai.client.operation.duration.
	SemconvLatest
	// SemconvDup emits both, side by side.
	SemconvDup = SemconvV141 | SemconvLatest
)

// The values of OTEL_SEMCONV_STABILITY_OPT_IN (a comma-separated list) that
// select the conventions.
const (
	envSemconvOptIn  = "OTEL_SEMCONV_STABILITY_OPT_IN"
	optInGenAILatest = "gen_ai_latest_experimental"
	optInGenAIDup    = "gen_ai_latest_experimental/dup"
)

// semconvFromEnv returns the conventions an OTEL_SEMCONV_STABILITY_OPT_IN
// value asks for: SemconvLatest when it lists gen_ai_latest_experimental,
// SemconvDup when it lists gen_ai_latest_experimental/dup (or both),
// SemconvV141 otherwise. Values for other categories (http, database, ...)
// are ignored.
func semconvFromEnv(v string) Semconv {
	m := Semconv(0)
	for f := range strings.SplitSeq(v, ",") {
		switch strings.TrimSpace(f) {
		case optInGenAILatest:
			m |= SemconvLatest
		case optInGenAIDup:
			m |= SemconvDup
		}
	}
	if m == 0 {
		return SemconvV141
	}
	return m
}

// WithSemconv selects the GenAI conventions of the client side, overriding
// OTEL_SEMCONV_STABILITY_OPT_IN. Without it, [New] reads that variable once:
// gen_ai_latest_experimental in its list means [SemconvLatest],
// gen_ai_latest_experimental/dup means [SemconvDup], anything else (or
// nothing) [SemconvV141]. Zero, or a value with bits other than those of
// [SemconvDup], is ignored.
func WithSemconv(s Semconv) Option {
	return optionFunc(func(c *config) {
		if s != 0 && s&^SemconvDup == 0 {
			c.semconv = s
		}
	})
}

// isInference reports whether a client operation is an inference call, for
// which the latest conventions replace the operation metrics.
func isInference(op string) bool { return op != "embeddings" }

// Token modality of the usage counters: the providers' streams do not break
// their usage down by modality.
const modalityUnknown = "unknown"

// inferenceInstruments are the client instruments of the latest GenAI
// conventions. Every field may be nil; the zero value records nothing.
type inferenceInstruments struct {
	duration, ttfc, tpoc                      metric.Float64Histogram
	in, out, cacheRead, cacheWrite, reasoning metric.Int64Counter
	opIn, opOut                               metric.Int64Histogram
}

func newInferenceInstruments(m metric.Meter) (*inferenceInstruments, error) {
	var errs []error
	hist := func(name, desc string) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(bucketsDuration...))
		errs = append(errs, err)
		return h
	}
	count := func(name, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit("{token}"), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	tokens := func(name, desc string) metric.Int64Histogram {
		h, err := m.Int64Histogram(name, metric.WithUnit("{token}"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(bucketsTokens...))
		errs = append(errs, err)
		return h
	}
	o := &inferenceInstruments{
		duration: hist(semconv.MetricClientInferenceDuration, "GenAI client inference operation duration."),
		ttfc: hist(semconv.MetricClientInferenceTimeToFirstChunk,
			"Time from the start of a streaming inference call to its first output chunk."),
		tpoc: hist(semconv.MetricClientInferenceTimePerOutputChunk,
			"Time per output chunk after the first, from the end of the previous chunk to the end of this one."),
		in:         count(semconv.MetricClientUsageInputTokens, "Input tokens used, cached ones included."),
		out:        count(semconv.MetricClientUsageOutputTokens, "Output tokens used, reasoning ones included."),
		cacheRead:  count(semconv.MetricClientUsageCacheReadInputTokens, "Input tokens served from the provider's prompt cache."),
		cacheWrite: count(semconv.MetricClientUsageCacheWriteInputTokens, "Input tokens written to the provider's prompt cache."),
		reasoning:  count(semconv.MetricClientUsageReasoningOutputTokens, "Output tokens spent on reasoning."),
		opIn:       tokens(semconv.MetricClientOperationInputTokens, "Input tokens per inference operation."),
		opOut:      tokens(semconv.MetricClientOperationOutputTokens, "Output tokens per inference operation."),
	}
	return o, errors.Join(errs...)
}

// inferenceProm mirrors the latest client instruments for a Prometheus
// registry, under the names an OTLP-to-Prometheus translation gives them.
type inferenceProm struct {
	duration, ttfc, tpoc, opIn, opOut         *prometheus.HistogramVec
	in, out, cacheRead, cacheWrite, reasoning *prometheus.CounterVec
}

// addInferenceProm creates the collectors of the latest client metrics and
// appends them to p.collectors for registration.
func (p *clientProm) addInferenceProm() {
	base := promBaseLabels
	with := func(extra ...string) []string { return append(append([]string(nil), base...), extra...) }
	h := func(name, help string, buckets []float64, labels []string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
		p.collectors = append(p.collectors, v)
		return v
	}
	c := func(name, help string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, with("gen_ai_token_modality"))
		p.collectors = append(p.collectors, v)
		return v
	}
	p.inf = &inferenceProm{
		duration:   h("gen_ai_client_inference_duration_seconds", "GenAI client inference operation duration.", bucketsDuration, with("error_type")),
		ttfc:       h("gen_ai_client_inference_time_to_first_chunk_seconds", "Time from the start of a streaming inference call to its first output chunk.", bucketsDuration, base),
		tpoc:       h("gen_ai_client_inference_time_per_output_chunk_seconds", "Time per output chunk after the first.", bucketsDuration, base),
		opIn:       h("gen_ai_client_inference_operation_input_tokens", "Input tokens per inference operation.", bucketsTokens, with("error_type")),
		opOut:      h("gen_ai_client_inference_operation_output_tokens", "Output tokens per inference operation.", bucketsTokens, with("error_type")),
		in:         c("gen_ai_client_inference_usage_input_tokens_total", "Input tokens used, cached ones included."),
		out:        c("gen_ai_client_inference_usage_output_tokens_total", "Output tokens used, reasoning ones included."),
		cacheRead:  c("gen_ai_client_inference_usage_cache_read_input_tokens_total", "Input tokens served from the provider's prompt cache."),
		cacheWrite: c("gen_ai_client_inference_usage_cache_write_input_tokens_total", "Input tokens written to the provider's prompt cache."),
		reasoning:  c("gen_ai_client_inference_usage_reasoning_output_tokens_total", "Output tokens spent on reasoning."),
	}
}

// inferenceAttrs are the precomputed attribute sets and Prometheus children
// of the latest client metrics for one clientAttrKey.
type inferenceAttrs struct {
	mod                                       []metric.AddOption // base + gen_ai.token.modality
	pDur, pTTFC, pTPOC, pOpIn, pOpOut         prometheus.Observer
	pIn, pOut, pCacheRead, pCacheWrite, pRsng prometheus.Counter
}

func newInferenceAttrs(k clientAttrKey, base []attribute.KeyValue, p *inferenceProm) *inferenceAttrs {
	kv := append(append([]attribute.KeyValue(nil), base...), semconv.GenAITokenModality.String(modalityUnknown))
	a := &inferenceAttrs{mod: []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kv...))}}
	if p != nil {
		a.pDur = p.duration.WithLabelValues(k.op, k.prov, k.model, k.errType)
		a.pTTFC = p.ttfc.WithLabelValues(k.op, k.prov, k.model)
		a.pTPOC = p.tpoc.WithLabelValues(k.op, k.prov, k.model)
		a.pOpIn = p.opIn.WithLabelValues(k.op, k.prov, k.model, k.errType)
		a.pOpOut = p.opOut.WithLabelValues(k.op, k.prov, k.model, k.errType)
		a.pIn = p.in.WithLabelValues(k.op, k.prov, k.model, modalityUnknown)
		a.pOut = p.out.WithLabelValues(k.op, k.prov, k.model, modalityUnknown)
		a.pCacheRead = p.cacheRead.WithLabelValues(k.op, k.prov, k.model, modalityUnknown)
		a.pCacheWrite = p.cacheWrite.WithLabelValues(k.op, k.prov, k.model, modalityUnknown)
		a.pRsng = p.reasoning.WithLabelValues(k.op, k.prov, k.model, modalityUnknown)
	}
	return a
}

// recordInference records the latest client metrics of a finished inference
// call: its duration (error.type on failure), its time to first chunk (a
// stream with output), every usage counter the provider reported (input and
// output also when it reported none: 0, as the conventions ask), and the
// per-operation token histograms.
func (c *call) recordInference(ctx context.Context, r *callResult, e *clientAttrs) {
	inf, a := c.ins.inf, e.inf
	if inf == nil || a == nil {
		return
	}
	recordHist(ctx, inf.duration, r.e2e, e.dur, a.pDur)
	if r.hasTTFT {
		recordHist(ctx, inf.ttfc, r.ttft, e.base, a.pTTFC)
	}
	in, out := max(r.usage.Input, 0), max(r.usage.Output, 0)
	addTokens(ctx, inf.in, in, a.mod, a.pIn)
	addTokens(ctx, inf.out, out, a.mod, a.pOut)
	if r.usage.CacheRead >= 0 {
		addTokens(ctx, inf.cacheRead, r.usage.CacheRead, a.mod, a.pCacheRead)
	}
	if r.usage.CacheWrite >= 0 {
		addTokens(ctx, inf.cacheWrite, r.usage.CacheWrite, a.mod, a.pCacheWrite)
	}
	if r.usage.Reasoning >= 0 {
		addTokens(ctx, inf.reasoning, r.usage.Reasoning, a.mod, a.pRsng)
	}
	if inf.opIn != nil {
		inf.opIn.Record(ctx, in, e.dur...)
		inf.opOut.Record(ctx, out, e.dur...)
	}
	if a.pOpIn != nil {
		a.pOpIn.Observe(float64(in))
		a.pOpOut.Observe(float64(out))
	}
}

func addTokens(ctx context.Context, c metric.Int64Counter, n int64, opts []metric.AddOption, p prometheus.Counter) {
	if c != nil {
		c.Add(ctx, n, opts...)
	}
	if p != nil {
		p.Add(float64(n))
	}
}

// usageAttrs appends the span attributes of the usage details u reports,
// under the names of the conventions in s.
func usageAttrs(s Semconv, u stream.Usage, attrs []attribute.KeyValue) []attribute.KeyValue {
	if u.CacheRead >= 0 {
		attrs = append(attrs, semconv.GenAIUsageCacheReadInputTokens.Int64(u.CacheRead))
	}
	if u.CacheWrite >= 0 {
		if s&SemconvV141 != 0 {
			attrs = append(attrs, semconv.GenAIUsageCacheCreationInputTokens.Int64(u.CacheWrite))
		}
		if s&SemconvLatest != 0 {
			attrs = append(attrs, semconv.GenAIUsageCacheWriteInputTokens.Int64(u.CacheWrite))
		}
	}
	if u.Reasoning >= 0 {
		attrs = append(attrs, semconv.GenAIUsageReasoningOutputTokens.Int64(u.Reasoning))
	}
	return attrs
}

// errSemconvInstruments wraps a failure to create the latest instruments.
func errSemconvInstruments(err error) error {
	return fmt.Errorf("create %s client instruments: %w", optInGenAILatest, err)
}
