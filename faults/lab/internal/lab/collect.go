package lab

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/semconv"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// spanStore is a span processor that keeps every ended span of a run.
type spanStore struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan
}

func (s *spanStore) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (s *spanStore) OnEnd(sp sdktrace.ReadOnlySpan) {
	s.mu.Lock()
	s.spans = append(s.spans, sp)
	s.mu.Unlock()
}
func (s *spanStore) Shutdown(context.Context) error   { return nil }
func (s *spanStore) ForceFlush(context.Context) error { return nil }

// Req is one served request of a run, rebuilt from its server span and the
// client spans of its outbound calls.
type Req struct {
	Start, End time.Time
	TTFTMs     float64 // 0 when the request had no output
	Judged     bool
	Good       bool
	// Obs is the raw evidence (absolute values), as the tracker builds it.
	Obs attribution.Observation
}

// num is attribution.Number: numeric span attribute values.
var num = attribution.Number

// signalOf names the probe signal behind each kernel feature.
var signalOf = map[attribution.Feature]string{
	attribution.KernDNSMs:          "dns_latency",
	attribution.KernRetransmits:    "tcp_retransmit",
	attribution.KernConnectMs:      "connect_latency",
	attribution.KernConnectErrors:  "connect_latency",
	attribution.KernRunqueueMs:     "runqueue_delay",
	attribution.KernCFSThrottledMs: "cfs_throttle",
	attribution.KernReclaimMs:      "mem_reclaim",
	attribution.KernStealPct:       "cpu_steal",
}

// requests assembles the run's requests, in the order they ended. A kernel
// feature whose probe was running (on) but that the span does not carry is
// observed as 0: the probe saw nothing for the request, which is evidence,
// not a missing signal.
func (s *spanStore) requests(on map[string]bool) []Req {
	s.mu.Lock()
	spans := slices.Clone(s.spans)
	s.mu.Unlock()
	clients := map[trace.TraceID][]sdktrace.ReadOnlySpan{}
	for _, sp := range spans {
		if sp.SpanKind() == trace.SpanKindClient {
			id := sp.SpanContext().TraceID()
			clients[id] = append(clients[id], sp)
		}
	}
	var out []Req
	for _, sp := range spans {
		if sp.SpanKind() != trace.SpanKindServer {
			continue
		}
		r := buildReq(sp, clients[sp.SpanContext().TraceID()])
		for f, sig := range signalOf {
			if on[sig] && !r.Obs.Has(f) {
				r.Obs.Set(f, 0)
			}
		}
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b Req) int { return a.End.Compare(b.End) })
	return out
}

// buildReq mirrors the tracker's observation(): the client-call summary
// (request.go callSummary) and the kernel attributes.
func buildReq(server sdktrace.ReadOnlySpan, calls []sdktrace.ReadOnlySpan) Req {
	r := Req{Start: server.StartTime(), End: server.EndTime()}
	var (
		n, retrieval, throttled, serverErrs, resets int
		provWait, retrWait, provTTFB, dns, conn     float64
	)
	for _, c := range calls {
		var isRetr bool
		var dur, ttfb float64
		var status int64
		var errType string
		for _, kv := range c.Attributes() {
			switch kv.Key {
			case semconv.SLOClientRetrieval:
				isRetr = kv.Value.AsBool()
			case semconv.SLOE2EMs:
				dur, _ = num(kv.Value)
			case semconv.SLOProviderTTFBMs:
				ttfb, _ = num(kv.Value)
			case semconv.SLORetrievalDNSMs:
				v, _ := num(kv.Value)
				dns += v
			case semconv.SLONetConnectMs, semconv.SLONetTLSMs:
				v, _ := num(kv.Value)
				conn += v
			case semconv.HTTPResponseStatusCode:
				status = kv.Value.AsInt64()
			case semconv.ErrorType:
				errType = kv.Value.AsString()
			}
		}
		n++
		if isRetr {
			retrieval++
			retrWait += dur
		} else {
			provWait += dur
			provTTFB = max(provTTFB, ttfb)
		}
		switch {
		case status == 429:
			throttled++
		case status >= 500:
			serverErrs++
		}
		if errType == "reset" || errType == "timeout" {
			resets++
		}
	}
	var e2e float64
	var status int64
	var errType string
	for _, kv := range server.Attributes() {
		switch kv.Key {
		case semconv.SLOE2EMs:
			e2e, _ = num(kv.Value)
		case semconv.SLOTTFTMs:
			r.TTFTMs, _ = num(kv.Value)
		case semconv.SLOGood:
			r.Judged, r.Good = true, kv.Value.AsBool()
		case semconv.HTTPResponseStatusCode:
			status = kv.Value.AsInt64()
		case semconv.ErrorType:
			errType = kv.Value.AsString()
		default:
			if f, ok := attribution.KernelFeature(kv.Key); ok {
				if v, ok := num(kv.Value); ok {
					r.Obs.Set(f, v)
				}
			}
		}
	}
	o := &r.Obs
	o.E2EMs = e2e
	o.Failed = status >= 500 || status == 429 || (errType != "" && errType != "cancelled")
	if n > 0 {
		o.Set(attribution.AppDNSMs, dns)
		o.Set(attribution.AppConnectMs, conn)
		o.Set(attribution.AppThrottled, float64(throttled))
		o.Set(attribution.AppServerErrors, float64(serverErrs))
		o.Set(attribution.AppResets, float64(resets))
		if n > retrieval {
			o.Set(attribution.AppProviderTTFBMs, provTTFB)
			o.Set(attribution.AppProviderWaitMs, provWait)
		}
		if retrieval > 0 {
			o.Set(attribution.AppRetrievalMs, retrWait)
		}
		o.Set(attribution.AppLocalMs, max(0, e2e-provWait-retrWait))
	}
	return r
}
