package slo

import (
	"context"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/internal/stream"
	"github.com/llmslo/slo/semconv"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
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
	t.requestCount.Add(1)

	span := rq.span
	recording := span.IsRecording()
	kattrs := t.kernelFinish(rq, &s)
	obs := t.observation(&s, kattrs)
	var badObs *attribution.Observation
	var traceID string
	now := t.cfg.now()
	allGood := true
	// The judged and breached objectives as bit sets over t.objs (their span
	// attributes are cached per set); by name beyond 64 objectives.
	var judged, breached uint64
	var judgedN, breachedN int
	var judgedNames, breachedNames []string
	byName := len(t.objs) > 64
	for i, o := range t.objs {
		if !o.obj.applies(s.route, s.model) {
			continue
		}
		v, value := o.obj.judge(&s)
		if v == notJudged {
			continue
		}
		judged |= objBit(i)
		judgedN++
		if byName {
			judgedNames = append(judgedNames, o.name)
		}
		ok := v == good
		ex := exemplar{}
		if !ok {
			allGood = false
			breached |= objBit(i)
			breachedN++
			if byName {
				breachedNames = append(breachedNames, o.name)
			}
			if traceID == "" && span.SpanContext().HasTraceID() {
				traceID = span.SpanContext().TraceID().String()
			}
			if badObs == nil {
				x := t.attr.excess(obs)
				badObs = &x
			}
			ex = exemplar{traceID: traceID, requestID: rq.requestID, value: value, at: now, obs: *badObs}
		}
		t.record(o, now, ok, ex)
		if t.events != nil {
			if traceID == "" && span.SpanContext().HasTraceID() {
				traceID = span.SpanContext().TraceID().String()
			}
			select {
			case t.events <- t.sloEvent(o, &s, ok, value, traceID, rq.requestID, now):
			default:
				t.droppedEvents.Add(1)
			}
		}
		o.count[boolIndex(ok)].Add(1)
		if o.promReq[0] != nil {
			o.promReq[boolIndex(ok)].Inc()
		}
	}

	if judgedN > 0 && allGood {
		t.attr.learn(obs)
	}
	t.recordMetrics(ctx, &s)

	if recording {
		attrs := make([]attribute.KeyValue, 0, 24)
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
		if s.hasTTFB {
			attrs = append(attrs, semconv.SLOTTFBMs.Float64(durMs(s.ttfb)))
		}
		if s.hasTTFT {
			attrs = append(attrs, semconv.SLOTTFTMs.Float64(durMs(s.ttft)),
				semconv.SLOOutputChunks.Int64(s.outChunks))
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
		if s.finishReason != "" {
			attrs = append(attrs, t.finishReasonAttr(s.finishReason))
		}
		if s.providerWait > 0 {
			attrs = append(attrs, semconv.SLOProviderWaitMs.Float64(durMs(s.providerWait)))
		}
		if s.cancelled {
			attrs = append(attrs, semconv.SLOCancelled.Bool(true))
		}
		if s.errorType != "" && !s.cancelled {
			attrs = append(attrs, semconv.ErrorType.String(s.errorType))
		}
		if judgedN > 0 {
			attrs = append(attrs, t.objectiveSetAttr(semconv.SLOObjective, judged, judgedNames), semconv.SLOGood.Bool(allGood))
			if breachedN > 0 {
				attrs = append(attrs, t.objectiveSetAttr(semconv.SLOBreached, breached, breachedNames))
			}
		}
		attrs = append(attrs, kattrs...)
		if badObs != nil {
			v := attribution.Attribute(*badObs, t.attr.model)
			attrs = append(attrs, semconv.SLOFaultDomain.String(v.Top.String()), semconv.SLOFaultPosterior.Float64(v.Confidence))
		}
		span.SetAttributes(attrs...)
		if rq.own && s.failed {
			span.SetStatus(codes.Error, s.errorType)
		}
	}
	if rq.own {
		span.End()
	}
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
	e := t.attrs.get(attrKey{op: s.operation, prov: s.provider, model: s.model, errType: s.errorType}, p)
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
