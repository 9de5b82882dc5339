package slo

import (
	"context"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/internal/stream"
	"github.com/llmslo/slo/semconv"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
)

func (t *Tracker) putObserver(o *stream.Observer) {
	if o != nil {
		o.Reset("", stream.DialectUnknown, nil)
		t.obsPool.Put(o)
	}
}

// finish computes the request's SLIs, judges them, records metrics and
// annotates the span. It runs once per request, on the handler's goroutine.
func (t *Tracker) finish(ctx context.Context, rq *Request, ctxErr error) {
	end := rq.clock()
	s := rq.compute(end, ctxErr)
	t.putServerObserver(rq.sobs)
	rq.sobs = nil

	t.kernelFinish(rq, end)
	obs := attribution.NewObservation(s.e2e, s.failed, s.calls, rq.kern.sum, t.probedFeatures())
	j := t.judge(rq, &s, obs)
	if j.judgedN > 0 {
		t.goodput.add(j.allGood, s.outTokens)
		if j.allGood {
			t.attr.learn(obs)
		}
	}
	if t.requestCount.Add(1) == unmatchedAfter {
		t.reportUnmatched(&s)
	}
	t.recordMetrics(ctx, &s)

	span := rq.span
	if span.IsRecording() {
		span.SetAttributes(t.spanAttributes(rq, &s, &j)...)
		if rq.own && s.failed {
			span.SetStatus(codes.Error, s.errorType)
		}
	}
	if rq.own {
		span.End()
	}
	if f := t.cfg.recordFunc; f != nil {
		f(ctx, t.requestRecord(rq, end, &s, &j, obs))
	}
}

// judgement is how a request fared against the tracker's objectives.
type judgement struct {
	// judged and breached are the judged and breached objectives as bit
	// sets over t.objs (their span attributes are cached per set); by name
	// (judgedNames, breachedNames) beyond 64 objectives.
	judged, breached           uint64
	judgedN, breachedN         int
	judgedNames, breachedNames []string
	allGood                    bool
	bad                        *attribution.Observation // the evidence as excess over the baselines, when breached
	traceID                    string
}

// judge judges the request against every objective that applies to it,
// feeds the burn-rate series, the exemplars and the SLO events.
func (t *Tracker) judge(rq *Request, s *sli, obs attribution.Observation) judgement {
	span := rq.span
	now := t.cfg.now()
	j := judgement{allGood: true}
	byName := len(t.objs) > 64
	got, _ := parseRoute(s.route)
	for i, o := range t.objs {
		if !t.filters[i].applies(got, s.method, s.model, s.tenant) {
			continue
		}
		v, value := o.obj.judge(s)
		if v == notJudged {
			continue
		}
		j.judged |= objBit(i)
		j.judgedN++
		if byName {
			j.judgedNames = append(j.judgedNames, o.name)
		}
		ok := v == good
		ex := exemplar{}
		if !ok {
			j.allGood = false
			j.breached |= objBit(i)
			j.breachedN++
			if byName {
				j.breachedNames = append(j.breachedNames, o.name)
			}
			if j.traceID == "" && span.SpanContext().HasTraceID() {
				j.traceID = span.SpanContext().TraceID().String()
			}
			if j.bad == nil {
				x := t.attr.excess(obs)
				j.bad = &x
			}
			ex = exemplar{traceID: j.traceID, span: span.SpanContext(), requestID: rq.requestID, value: value, at: now, obs: *j.bad}
		}
		t.record(o, now, ok, ex)
		if t.events != nil {
			if j.traceID == "" && span.SpanContext().HasTraceID() {
				j.traceID = span.SpanContext().TraceID().String()
			}
			select {
			case t.events <- queuedEvent{t.sloEvent(o, s, ok, value, j.traceID, rq.requestID, now), span.SpanContext()}:
			default:
				t.droppedEvents.Add(1)
			}
		}
		o.count[boolIndex(ok)].Add(1)
		if o.promReq[0] != nil {
			o.promReq[boolIndex(ok)].Inc()
		}
	}
	return j
}

// spanAttributes returns the attributes of the request's span: the SLIs,
// the judgement, the kernel evidence and, for a bad request, its top fault
// domain. They are written for people and backends; nothing reads them back.
func (t *Tracker) spanAttributes(rq *Request, s *sli, j *judgement) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 24)
	attrs = t.sliAttributes(s, attrs)
	if j.judgedN > 0 {
		attrs = append(attrs, t.objectiveSetAttr(semconv.SLOObjective, j.judged, j.judgedNames), semconv.SLOGood.Bool(j.allGood))
		if j.breachedN > 0 {
			attrs = append(attrs, t.objectiveSetAttr(semconv.SLOBreached, j.breached, j.breachedNames))
		}
	}
	if k := t.kern; k != nil {
		attrs = kernelAttributes(&rq.kern.sum, &s.calls, k.path(), attrs)
	}
	if j.bad != nil {
		v := attribution.Attribute(*j.bad, t.attr.model)
		attrs = append(attrs, semconv.SLOFaultDomain.String(v.Top.String()), semconv.SLOFaultPosterior.Float64(v.Confidence))
	}
	return attrs
}

// sliAttributes appends the gen_ai.* and llm.slo.* attributes of the
// request's SLIs to attrs.
func (t *Tracker) sliAttributes(s *sli, attrs []attribute.KeyValue) []attribute.KeyValue {
	attrs = append(attrs,
		semconv.GenAIOperationName.String(s.operation),
		semconv.GenAIProviderName.String(s.provider),
		semconv.SLOE2EMs.Float64(durMs(s.e2e)),
		semconv.SLOStreamFormat.String(s.format),
		semconv.SLOStreamDialect.String(s.dialect),
	)
	if !s.hijacked {
		attrs = append(attrs, semconv.HTTPResponseStatusCode.Int(s.status))
	}
	if s.model != "" {
		attrs = append(attrs, semconv.GenAIRequestModel.String(s.model))
	}
	if s.respModel != "" {
		attrs = append(attrs, semconv.GenAIResponseModel.String(s.respModel))
	}
	if s.tenant != "" {
		attrs = append(attrs, semconv.SLOTenant.String(s.tenant[:min(len(s.tenant), maxRequestID)]))
	}
	if s.hasTTFB {
		attrs = append(attrs, semconv.SLOTTFBMs.Float64(durMs(s.ttfb)))
	}
	if s.hasTTFT {
		attrs = append(attrs, semconv.SLOTTFTMs.Float64(durMs(s.ttft)), semconv.SLOOutputChunks.Int64(s.outChunks))
	}
	if s.outChunks > 1 {
		attrs = append(attrs, semconv.SLOITLMaxMs.Float64(durMs(s.itlMax)), semconv.SLOITLMeanMs.Float64(durMs(s.itlMean)))
	}
	if s.hasTPOT {
		attrs = append(attrs, semconv.SLOTPOTMs.Float64(durMs(s.tpot)), semconv.SLOTokensPerSec.Float64(s.tokensPerSec))
	}
	if s.outTokens >= 0 {
		attrs = append(attrs, semconv.GenAIUsageOutputTokens.Int64(s.outTokens), semconv.SLOTokensEstimated.Bool(s.estimated))
	}
	if s.inTokens >= 0 {
		attrs = append(attrs, semconv.GenAIUsageInputTokens.Int64(s.inTokens))
	}
	attrs = usageAttrs(t.cfg.semconv, s.usage, attrs)
	if s.finishReason != "" {
		attrs = append(attrs, t.finishReasonAttr(s.finishReason))
	}
	if s.calls.ProviderWait > 0 {
		attrs = append(attrs, semconv.SLOProviderWaitMs.Float64(durMs(s.calls.ProviderWait)))
	}
	if s.cancelled {
		attrs = append(attrs, semconv.SLOCancelled.Bool(true))
	}
	if s.errorType != "" && !s.cancelled {
		attrs = append(attrs, semconv.ErrorType.String(s.errorType))
	}
	return attrs
}

// recordMetrics records the request's SLIs; ctx carries the trace that the
// latency histograms' exemplars point at. Token usage and decode speed are
// recorded without it (no exemplar): they would only repeat those links, at
// the cost of one exemplar offer each.
func (t *Tracker) recordMetrics(ctx context.Context, s *sli) {
	o, p := t.otel, t.prom
	if o == nil && p == nil {
		return
	}
	e := t.attrs.get(attrKey{op: s.operation, prov: s.provider, model: t.models.fold(s.model), errType: s.errorType}, p)
	if o != nil {
		if s.hasTTFT {
			o.ttft.Inst().Record(ctx, s.ttft.Seconds(), e.base...)
		}
		if s.hasTPOT {
			o.tpot.Inst().Record(ctx, s.tpot.Seconds(), e.base...)
			if s.tokensPerSec > 0 {
				o.tps.Record(context.Background(), s.tokensPerSec, e.base...)
			}
		}
		o.duration.Inst().Record(ctx, s.e2e.Seconds(), e.dur...)
		if s.hasTTFB {
			o.ttfb.Record(ctx, s.ttfb.Seconds(), e.base...)
		}
		if s.inTokens >= 0 {
			o.tokens.Record(context.Background(), s.inTokens, e.in...)
		}
		if s.outTokens >= 0 {
			o.tokens.Record(context.Background(), s.outTokens, e.out...)
		}
		recordDetail(o.tokens, s.usage.CacheRead, e.cacheRead, nil)
		recordDetail(o.tokens, s.usage.CacheWrite, e.cacheWrite, nil)
		recordDetail(o.tokens, s.usage.Reasoning, e.reasoning, nil)
	}
	if p != nil {
		if s.hasTTFT {
			e.pTTFT.Observe(s.ttft.Seconds())
		}
		if s.hasTPOT {
			e.pTPOT.Observe(s.tpot.Seconds())
			if s.tokensPerSec > 0 {
				e.pTPS.Observe(s.tokensPerSec)
			}
		}
		e.pDur.Observe(s.e2e.Seconds())
		if s.hasTTFB {
			e.pTTFB.Observe(s.ttfb.Seconds())
		}
		if s.inTokens >= 0 {
			e.pIn.Observe(float64(s.inTokens))
		}
		if s.outTokens >= 0 {
			e.pOut.Observe(float64(s.outTokens))
		}
		recordDetail(nil, s.usage.CacheRead, nil, e.pCacheRead)
		recordDetail(nil, s.usage.CacheWrite, nil, e.pCacheWrite)
		recordDetail(nil, s.usage.Reasoning, nil, e.pReasoning)
	}
}

// recordDetail records a usage detail n, when the stream reported it, in
// the token usage histogram h (or its Prometheus child p).
func recordDetail(h metric.Int64Histogram, n int64, opts []metric.RecordOption, p prometheus.Observer) {
	if n < 0 {
		return
	}
	if h != nil {
		h.Record(context.Background(), n, opts...)
	}
	if p != nil {
		p.Observe(float64(n))
	}
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

func boolLabel(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
