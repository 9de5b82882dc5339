package slo

import (
	"time"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/correlate"
	"github.com/llmslo/slo/semconv"
	"go.opentelemetry.io/otel/trace"
)

// RequestRecord is what the tracker measured and concluded about one request
// served through [Tracker.Instrument]: the same values its span and metrics
// carry, typed, plus the evidence attribution works from. [WithRequestRecords]
// delivers one per request. Durations are zero when not measured (a TTFT
// needs a streamed response with output, a TPOT two output tokens or more).
type RequestRecord struct {
	// Start is when the request arrived, End when its handler returned: the
	// end-to-end latency is End − Start.
	Start, End time.Time
	// TraceID is the trace of the request's span (zero when the span has
	// none); RequestID is its X-Request-Id header, at most 128 bytes of
	// letters, digits and - _ . : / + = @ (other bytes become '_').
	TraceID   trace.TraceID
	RequestID string
	// Route is the route pattern that served the request, or its path.
	Route string
	// Model, Provider and Operation are gen_ai.request.model,
	// gen_ai.provider.name and gen_ai.operation.name, as on the span.
	Model, Provider, Operation string
	// Status is the HTTP status (200 when the handler wrote none), ErrorType
	// the error.type ("" when the request neither failed nor was cancelled).
	Status    int
	ErrorType string
	// Failed marks a failed request (a 5xx or 429 answer, a stream error, a
	// panic); Cancelled one whose client went away before its end.
	Failed, Cancelled bool

	// TTFB, TTFT, TPOT and the largest and mean inter-token latency
	// (ITLMax, ITLMean), as defined in docs/design.md §4.
	TTFB, TTFT, TPOT, ITLMax, ITLMean time.Duration
	// TokensPerSec is the decode rate, (output tokens − 1) / (E2E − TTFT).
	TokensPerSec float64
	// InputTokens and OutputTokens are the token usage; -1 when unknown.
	// TokensEstimated says OutputTokens counts output chunks because
	// neither the stream nor the handler reported usage.
	InputTokens, OutputTokens int64
	TokensEstimated           bool

	// Objectives names the objectives that judged the request, in the
	// tracker's order; Breached those it missed. Both are empty when no
	// objective applied.
	Objectives, Breached []string
	// Calls summarises the outbound calls made through [Tracker.Transport]
	// on behalf of the request.
	Calls attribution.Calls
	// Kernel is the kernel evidence joined to the request; zero without
	// probes.
	Kernel correlate.Summary
	// Evidence is the request's attribution evidence,
	// [attribution.NewObservation] of the above, in absolute values (the
	// tracker subtracts its healthy baselines before attributing a bad
	// request).
	Evidence attribution.Observation
}

// requestRecord assembles the record of a finished request.
func (t *Tracker) requestRecord(rq *Request, end time.Time, s *sli, j *judgement, obs attribution.Observation) RequestRecord {
	r := RequestRecord{
		Start: rq.start, End: end, TraceID: rq.span.SpanContext().TraceID(), RequestID: rq.requestID,
		Route: s.route, Model: s.model, Provider: s.provider, Operation: s.operation,
		Status: s.status, ErrorType: s.errorType, Failed: s.failed, Cancelled: s.cancelled,
		TTFB: s.ttfb, TTFT: s.ttft, TPOT: s.tpot, ITLMax: s.itlMax, ITLMean: s.itlMean, TokensPerSec: s.tokensPerSec,
		InputTokens: s.inTokens, OutputTokens: s.outTokens, TokensEstimated: s.estimated,
		Calls: s.calls, Kernel: rq.kern.sum, Evidence: obs,
	}
	if j.judgedN > 0 {
		r.Objectives = t.objectiveSetAttr(semconv.SLOObjective, j.judged, j.judgedNames).Value.AsStringSlice()
	}
	if j.breachedN > 0 {
		r.Breached = t.objectiveSetAttr(semconv.SLOBreached, j.breached, j.breachedNames).Value.AsStringSlice()
	}
	return r
}
