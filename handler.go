package slo

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Instrument wraps h so that every request it serves is measured: TTFB, TTFT,
// inter-token latency, TPOT, decode tokens/s, end-to-end latency, token usage
// and errors, exported as span attributes and metrics and judged against the
// tracker's objectives.
//
// The response bytes pass through unchanged, and the wrapped ResponseWriter
// keeps the optional interfaces of the original (http.Flusher, http.Hijacker,
// io.ReaderFrom, http.Pusher) and supports http.ResponseController. When a
// span is already active in the request context (otelhttp.NewHandler outside
// Instrument), that span is enriched; otherwise Instrument starts a server
// span, continuing the trace context of the incoming headers.
//
// A panic in h is recorded (as a failed request) and re-panicked, so net/http
// handles it as it would without instrumentation.
func (t *Tracker) Instrument(h http.Handler) http.Handler {
	if h == nil {
		h = http.NotFoundHandler()
	}
	return &handler{t: t, next: h}
}

// Instrument wraps h with the default tracker; see [Tracker.Instrument] and
// [Default].
func Instrument(h http.Handler) http.Handler {
	return Default().Instrument(h)
}

type handler struct {
	t    *Tracker
	next http.Handler
}

func (hd *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := hd.t
	rq := &Request{t: t, start: time.Now(), route: r.Pattern, inTokens: -1, outTokens: -1}
	rq.requestID = r.Header.Get("X-Request-Id")
	if rq.route == "" {
		rq.route = r.URL.Path
	}
	ctx := r.Context()
	rq.span = trace.SpanFromContext(ctx)
	if !rq.span.SpanContext().IsValid() {
		ctx = t.cfg.propagators.Extract(ctx, headerCarrier(r.Header))
		name := r.Method
		if r.Pattern != "" {
			name = r.Pattern
			if r.Method != "" && !hasMethodPrefix(r.Pattern) {
				name = r.Method + " " + r.Pattern
			}
		}
		ctx, rq.span = t.tracer.Start(ctx, name, serverSpanOpts...)
		rq.own = true
	}
	rq.ctx = requestContext{Context: ctx, rq: rq}
	ctx = &rq.ctx
	t.kernelRequestStart(rq)

	ww := wrapWriter(w, rq)
	defer func() {
		if p := recover(); p != nil {
			rq.panicked = true
			t.finish(ctx, rq, ctx.Err())
			panic(p)
		}
	}()
	hd.next.ServeHTTP(ww, r.WithContext(ctx))
	t.finish(ctx, rq, ctx.Err())
}

var serverSpanOpts = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

func hasMethodPrefix(pattern string) bool {
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == ' ':
			return i > 0
		case c < 'A' || c > 'Z':
			return false
		}
	}
	return false
}

// httpStatusText returns the status code as error.type; common codes do not allocate.
func httpStatusText(code int) string {
	switch code {
	case 429:
		return "429"
	case 500:
		return "500"
	case 502:
		return "502"
	case 503:
		return "503"
	case 504:
		return "504"
	}
	return strconv.Itoa(code)
}

// headerCarrier is propagation.HeaderCarrier (a TextMapCarrier and a
// ValuesGetter), except that it looks the W3C header names up by their
// canonical spelling: the propagators ask for them in lower case, which
// net/http would allocate to canonicalize.
type headerCarrier http.Header

// canonicalW3C returns the canonical form of the W3C propagation headers.
func canonicalW3C(key string) string {
	switch key {
	case "traceparent":
		return "Traceparent"
	case "tracestate":
		return "Tracestate"
	case "baggage":
		return "Baggage"
	}
	return key
}

func (hc headerCarrier) Get(key string) string {
	return propagation.HeaderCarrier(hc).Get(canonicalW3C(key))
}

func (hc headerCarrier) Values(key string) []string {
	return propagation.HeaderCarrier(hc).Values(canonicalW3C(key))
}

func (hc headerCarrier) Set(key, value string) { propagation.HeaderCarrier(hc).Set(key, value) }

func (hc headerCarrier) Keys() []string { return propagation.HeaderCarrier(hc).Keys() }

var (
	_ propagation.TextMapCarrier = headerCarrier(nil)
	_ propagation.ValuesGetter   = headerCarrier(nil)
)

// requestContext is the context node that carries a *Request, as
// context.WithValue(parent, requestKey{}, rq) would, but allocated as part
// of the Request.
type requestContext struct {
	context.Context
	rq *Request
}

func (c *requestContext) Value(key any) any {
	if _, ok := key.(requestKey); ok {
		return c.rq
	}
	return c.Context.Value(key)
}

func (c *requestContext) String() string { return "slo.requestContext" }
