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

// requests assembles the run's requests, in the order they ended. probed
// are the kernel features whose probe ran in-process (as the tracker sees
// them): a request's span that does not carry one observes it as 0.
func (s *spanStore) requests(probed attribution.FeatureSet) []Req {
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
		out = append(out, buildReq(sp, clients[sp.SpanContext().TraceID()], probed))
	}
	slices.SortStableFunc(out, func(a, b Req) int { return a.End.Compare(b.End) })
	return out
}

// buildReq rebuilds a request from its spans: the client-call summary
// (what the tracker's request.go keeps) from the client spans, then the
// observation with attribution.NewObservation, the function the tracker
// itself calls.
func buildReq(server sdktrace.ReadOnlySpan, calls []sdktrace.ReadOnlySpan, probed attribution.FeatureSet) Req {
	r := Req{Start: server.StartTime(), End: server.EndTime()}
	var c attribution.Calls
	for _, sp := range calls {
		var isRetr bool
		var dur, ttfb float64
		var status int64
		var errType string
		for _, kv := range sp.Attributes() {
			switch kv.Key {
			case semconv.SLOClientRetrieval:
				isRetr = kv.Value.AsBool()
			case semconv.SLOE2EMs:
				dur, _ = num(kv.Value)
			case semconv.SLOProviderTTFBMs:
				ttfb, _ = num(kv.Value)
			case semconv.SLORetrievalDNSMs:
				v, _ := num(kv.Value)
				c.DNSMs += v
			case semconv.SLONetConnectMs, semconv.SLONetTLSMs:
				v, _ := num(kv.Value)
				c.ConnectMs += v
			case semconv.HTTPResponseStatusCode:
				status = kv.Value.AsInt64()
			case semconv.ErrorType:
				errType = kv.Value.AsString()
			}
		}
		c.N++
		if isRetr {
			c.Retrieval++
			c.RetrievalWaitMs += dur
		} else {
			c.ProviderWaitMs += dur
			c.ProviderTTFBMs = max(c.ProviderTTFBMs, ttfb)
		}
		switch {
		case status == 429:
			c.Throttled++
		case status >= 500:
			c.ServerErrors++
		}
		if errType == "reset" || errType == "timeout" {
			c.Resets++
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
		}
	}
	failed := status >= 500 || status == 429 || (errType != "" && errType != "cancelled")
	r.Obs = attribution.NewObservation(e2e, failed, c, server.Attributes(), probed)
	return r
}
