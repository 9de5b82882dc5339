package slo

import (
	"context"
	"net/http"
	"strconv"
	"strings"
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
// The request's route, which [Objective.ForRoute] matches and records and
// events carry, is the pattern of the ServeMux that routed the request to
// the returned handler (mux.Handle("POST /v1/chat/completions",
// t.Instrument(h))), else the pattern of a ServeMux that h is or contains
// (t.Instrument(mux)), read once h returned, else the URL path reduced to a
// bounded shape (docs/design.md §8): /v1/files/file-3f2a/content is
// recorded as /v1/files/{id}/content.
//
// The request's X-Request-Id, which records, SLO events and incidents
// carry, is cut to 128 bytes, and bytes other than letters, digits and
// - _ . : / + = @ become '_': a client cannot make an incident too large for
// a pager, nor write into it what it likes.
//
// A panic in h is recorded (as a failed request) and re-panicked, so net/http
// handles it as it would without instrumentation.
//
// A nil h is a mistake that cannot be returned as an error: it is reported
// once, now, through the tracker's error handler and logger, and every
// request is answered 500 Internal Server Error (and judged as failed). On
// a nil or zero Tracker (see [Tracker]) Instrument returns h unchanged.
func (t *Tracker) Instrument(h http.Handler) http.Handler {
	if h == nil {
		t.reportNilHandler()
		h = nilHandler{}
	}
	if !t.usable() {
		t.reportZero("Instrument")
		return h
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
	rq := &Request{t: t, start: time.Now(), route: r.Pattern, method: r.Method, inTokens: -1, outTokens: -1}
	rq.requestID = requestID(r.Header.Get("X-Request-Id"))
	if t.cfg.tenant != nil {
		rq.tenant = t.tenantOf(r)
	}
	ctx := r.Context()
	rq.span = trace.SpanFromContext(ctx)
	if !rq.span.SpanContext().IsValid() {
		ctx = t.cfg.propagators.Extract(ctx, headerCarrier(r.Header))
		ctx, rq.span = t.tracer.Start(ctx, spanName(r.Method, r.Pattern), serverSpanOpts...)
		rq.own = true
	}
	rq.ctx = requestContext{Context: ctx, rq: rq}
	ctx = &rq.ctx
	t.kernelRequestStart(rq)

	ww := wrapWriter(w, rq)
	inner := r.WithContext(ctx)
	defer func() {
		if p := recover(); p != nil {
			rq.panicked = true
			rq.routed(inner)
			t.finish(ctx, rq, ctx.Err())
			panic(p)
		}
	}()
	hd.next.ServeHTTP(ww, inner)
	rq.routed(inner)
	t.finish(ctx, rq, ctx.Err())
}

// routed sets the route of a request that reached Instrument without a
// pattern, once the handler returned (requestRoute): a ServeMux inside has
// then set inner.Pattern, and the span Instrument started is named after it,
// as it would have been had the ServeMux been outside.
func (rq *Request) routed(inner *http.Request) {
	if rq.route != "" {
		return
	}
	rq.route = requestRoute("", inner)
	if inner.Pattern != "" && rq.own {
		rq.span.SetName(spanName(inner.Method, inner.Pattern))
	}
}

var serverSpanOpts = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

// spanName is the name of a server span: the method and the route pattern,
// or the method alone without a pattern.
func spanName(method, pattern string) string {
	switch {
	case pattern == "":
		return method
	case method != "" && !hasMethodPrefix(pattern):
		return method + " " + pattern
	}
	return pattern
}

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

// maxRequestID is the longest request id the tracker keeps (a UUID is 36
// bytes).
const maxRequestID = 128

// requestID returns the X-Request-Id value v as the tracker records it
// (request records, SLO events, exemplars and incidents, and so the
// webhook, PagerDuty and Opsgenie bodies): its first 128 bytes, each byte
// other than the ASCII letters, digits and - _ . : / + = @ replaced by '_'.
// The value comes from the client: unbounded, it could make an incident too
// large for a pager's API (PagerDuty refuses events over 512 KB, and a 4xx
// is not retried) and put attacker-chosen text in front of the on-call. A
// value within those limits is returned as is, without allocation.
func requestID(v string) string {
	if len(v) <= maxRequestID && !strings.ContainsFunc(v, func(c rune) bool { return !requestIDByte(c) }) {
		return v
	}
	b := []byte(v[:min(len(v), maxRequestID)])
	for i, c := range b {
		if !requestIDByte(rune(c)) {
			b[i] = '_'
		}
	}
	return string(b)
}

// requestIDByte reports whether c is kept in a request id.
func requestIDByte(c rune) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.ContainsRune("-_.:/+=@", c)
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
