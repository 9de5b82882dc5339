package slo

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// SLOEvent is one request judged against one objective, in the SloEventV1
// JSON shape. Emitted only when an event sink is configured ([WithEventSink]).
type SLOEvent struct {
	ID        string            `json:"event_id"`
	Time      time.Time         `json:"timestamp"`
	Cluster   string            `json:"cluster"`
	Namespace string            `json:"namespace"`
	Workload  string            `json:"workload"`
	Service   string            `json:"service"`
	RequestID string            `json:"request_id"`
	TraceID   string            `json:"trace_id"`
	SLIName   string            `json:"sli_name"`  // ttft_ms, request_latency_ms, token_throughput_tps, error_rate
	SLIValue  float64           `json:"sli_value"` // in Unit
	Unit      string            `json:"unit"`      // "ms", "tokens/s" or "ratio"
	Status    string            `json:"status"`    // ok, warning (good but within 10 % of the threshold), breach
	Labels    map[string]string `json:"labels"`    // objective, route, model, provider
}

// queuedEvent is an SLO event on its way to the sinks, with the span of
// its request (the log record's context; WithLoggerProvider).
type queuedEvent struct {
	ev   SLOEvent
	span trace.SpanContext
}

// EventSink receives per-request SLO events. The tracker calls Record from
// its own goroutine; events are queued (1024 at most; a full queue drops and
// counts them in [Status]) so a slow sink never slows a request.
type EventSink interface {
	Record(ctx context.Context, ev SLOEvent) error
}

// EventSinkFunc adapts a function to [EventSink].
type EventSinkFunc func(ctx context.Context, ev SLOEvent) error

// Record calls f.
func (f EventSinkFunc) Record(ctx context.Context, ev SLOEvent) error { return f(ctx, ev) }

// WithEventSink sends a [SLOEvent] for every judged request to s. The
// default is none, which costs nothing. A nil sink is ignored.
func WithEventSink(s EventSink) Option {
	return optionFunc(func(c *config) {
		if s != nil {
			c.eventSink = s
		}
	})
}

const eventQueue = 1024

var eventSeq atomic.Uint64

// sloEvent builds the event of request s judged by o.
func (t *Tracker) sloEvent(o *objState, s *sli, ok bool, value float64, traceID, requestID string, now time.Time) SLOEvent {
	ev := SLOEvent{
		ID:        "ev-" + strconv.FormatInt(now.UnixNano(), 36) + "-" + strconv.FormatUint(eventSeq.Add(1), 36),
		Time:      now,
		Cluster:   t.cfg.cluster,
		Namespace: t.cfg.namespace,
		Workload:  t.cfg.service,
		Service:   t.cfg.service,
		RequestID: requestID,
		TraceID:   traceID,
		SLIName:   o.obj.kind.eventSLIName(),
		SLIValue:  value,
		Unit:      "ms",
		Status:    "ok",
		Labels:    map[string]string{"objective": o.name, "route": s.route, "model": s.model, "provider": s.provider},
	}
	switch o.obj.kind {
	case sliTPOT:
		ev.SLIValue, ev.Unit = s.tokensPerSec, "tokens/s"
	case sliTokensPerSec:
		ev.Unit = "tokens/s"
	case sliErrorRate:
		ev.Unit = "ratio"
	}
	switch {
	case !ok:
		ev.Status = "breach"
	case o.obj.kind == sliTokensPerSec && value < o.obj.minTPS*1.1,
		(o.obj.kind == sliTTFT || o.obj.kind == sliLatency) && value > 0.9*durMs(o.obj.threshold),
		o.obj.kind == sliTPOT && s.tpot > o.obj.threshold*9/10:
		ev.Status = "warning"
	}
	return ev
}
