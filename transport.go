package slo

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmslo/slo/correlate"
	"github.com/llmslo/slo/internal/stream"
	"github.com/llmslo/slo/semconv"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Transport returns an http.RoundTripper that measures every outbound call
// made through base (nil: [http.DefaultTransport], which is used, never
// modified): a client span per attempt, child of the span in the request
// context; the GenAI client metrics (gen_ai.client.operation.duration,
// gen_ai.client.operation.time_to_first_chunk,
// gen_ai.client.operation.time_per_output_chunk, gen_ai.client.token.usage;
// or their gen_ai.client.inference.* successors, with prompt-cache and
// reasoning token counters, as [WithSemconv] selects);
// the httptrace decomposition of the call (DNS, connect, TLS, time to first
// response byte, connection reuse); provider throttling and errors (429 and
// Retry-After, 5xx, resets, timeouts); retries the SDK marks
// (X-Stainless-Retry-Count).
//
// The response body is observed as the caller reads it and is passed on
// byte for byte unchanged; the call's record is finished exactly once, when
// the body reaches EOF, fails, is closed, or when the request context ends
// (a body abandoned before its end is recorded as cancelled). The request is
// not modified: its JSON body is peeked (at most 64 KiB, through GetBody when
// the request has one) for "model".
//
// A call made while serving a request instrumented by [Tracker.Instrument]
// (its context carries the [Request]) also feeds that request's summary of
// outbound calls: time waiting on the provider or retrieval backend, TTFB,
// throttling, errors, retries and network time.
//
// Use it wherever an *http.Client is accepted:
//
//	client := openai.NewClient(option.WithHTTPClient(&http.Client{Transport: t.Transport(nil)}))
func (t *Tracker) Transport(base http.RoundTripper, opts ...TransportOption) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if !t.usable() {
		t.reportZero("Transport")
		return base
	}
	tr := &transport{t: t, base: base}
	for _, o := range opts {
		if o != nil {
			o.applyTransport(&tr.cfg)
		}
	}
	return tr
}

// Transport wraps base with the default tracker; see [Tracker.Transport] and
// [Default].
func Transport(base http.RoundTripper, opts ...TransportOption) http.RoundTripper {
	return Default().Transport(base, opts...)
}

type transport struct {
	t    *Tracker
	base http.RoundTripper
	cfg  transportConfig
}

// CloseIdleConnections closes the idle connections of the base transport,
// when it has that method, so that http.Client.CloseIdleConnections works
// through the wrapper.
func (tr *transport) CloseIdleConnections() {
	if c, ok := tr.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Unwrap returns the base transport.
func (tr *transport) Unwrap() http.RoundTripper { return tr.base }

// RoundTrip implements http.RoundTripper.
func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t := tr.t
	c := &call{t: t, start: time.Now(), retrieval: tr.cfg.retrieval}
	ctx := req.Context()
	c.parent = RequestFrom(ctx)
	c.ins = t.clientInstruments()
	body, replaced := c.describe(req, &tr.cfg)

	ctx, span := t.tracer.Start(ctx, c.spanName(), trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		c.span = span
		span.SetAttributes(c.startAttrs()...)
	}
	c.ctx = ctx
	t.kernelCallStart(c, trace.SpanContextFromContext(ctx))
	ctx = httptrace.WithClientTrace(ctx, c.clientTrace())
	r2 := req.WithContext(ctx)
	if replaced {
		r2.Body = body
	}
	resp, err := tr.base.RoundTrip(r2)
	if err != nil || resp == nil {
		if err == nil {
			err = errors.New("slo: round tripper returned no response and no error")
		}
		c.mu.Lock()
		c.finishLocked(endError, err)
		c.mu.Unlock()
		return resp, err
	}
	c.status = resp.StatusCode
	if c.status == http.StatusTooManyRequests || c.status == http.StatusServiceUnavailable {
		c.retryAfter = parseRetryAfter(resp.Header, c.start)
	}
	if resp.Body == nil || resp.Body == http.NoBody || resp.StatusCode == http.StatusSwitchingProtocols ||
		req.Method == http.MethodHead {
		// No body to observe (a 101 body is a ReadWriteCloser the caller
		// type-asserts; it is handed on untouched).
		c.mu.Lock()
		c.finishLocked(endEOF, nil)
		c.mu.Unlock()
		return resp, nil
	}
	if !c.retrieval {
		c.obs = t.getObserverHint(resp.Header.Get("Content-Type"), c.hint, c.onEvent)
		if resp.Header.Get("Content-Encoding") != "" && !resp.Uncompressed {
			c.encoded = true // the caller asked for a compressed body: not decodable here
		}
	}
	c.contentLength = resp.ContentLength
	if !isStreamType(resp.Header.Get("Content-Type")) {
		c.body = observedBody{rc: resp.Body, c: c}
		resp.Body = &c.body
		return resp, nil
	}
	// A stream the caller stops reading without closing it is recorded
	// as cancelled when its context ends or, failing that, when the body
	// becomes unreachable. abandon takes c.mu, so it cannot run before
	// stopAfter is set.
	b := &observedBody{rc: resp.Body, c: c} // c must not point to b
	runtime.AddCleanup(b, (*call).abandon, c)
	if req.Context().Done() != nil {
		c.mu.Lock()
		c.stopAfter = context.AfterFunc(req.Context(), c.abandon)
		c.mu.Unlock()
	}
	resp.Body = b
	return resp, nil
}

// endKind says how a call ended.
type endKind uint8

const (
	endEOF      endKind = iota // the body was read to its end
	endError                   // the round trip or a body read failed
	endClosed                  // the caller closed the body before its end
	endCanceled                // the request context ended before the body did
)

// call is the record of one attempt through the transport.
type call struct {
	t         *Tracker
	ins       *clientInstruments
	parent    *Request
	kid       correlate.RequestID // the call's registration with the joiner; 0 without probes
	span      trace.Span          // nil when not recording
	ctx       context.Context
	start     time.Time
	retrieval bool

	// Described from the request.
	provider, operation, model string
	folds                      foldMemo // the model labels as folded, once per call (labels.go)
	serverAddr                 string
	serverPort                 int
	hint                       stream.Dialect
	retryCount                 int // X-Stainless-Retry-Count; -1 when absent

	// httptrace timings, in nanoseconds since start (0 = not seen); written
	// from the transport's goroutines, hence atomic.
	dnsStart, dnsDone   atomic.Int64
	connStart, connDone atomic.Int64
	tlsStart, tlsDone   atomic.Int64
	getConn, gotConn    atomic.Int64
	wroteReq, gotTTB    atomic.Int64
	reused              atomic.Bool

	mu            sync.Mutex // guards everything below, and obs
	done          bool
	conn          connInfo // the connection the call got; valid when hasConn
	hasConn       bool
	body          observedBody
	status        int
	retryAfter    time.Duration
	obs           *stream.Observer
	encoded       bool
	contentLength int64
	now           time.Time // timestamp of the Read being observed
	bytes         int64
	firstByte     time.Time
	lastByte      time.Time
	chunkTimes    // output chunks, end marker, stream errors
	chunkOpt      chunkRecorder
	stopAfter     func() bool
}

// observedBody wraps a response body: the bytes are handed to the caller
// unchanged and observed on the way.
type observedBody struct {
	rc io.ReadCloser
	c  *call
}

func (b *observedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 || err != nil {
		c := b.c
		c.mu.Lock()
		if !c.done {
			if n > 0 {
				c.observe(p[:n], time.Now())
			}
			if err == io.EOF {
				c.finishLocked(endEOF, nil)
			} else if err != nil {
				c.finishLocked(endError, err)
			}
		}
		c.mu.Unlock()
	}
	return n, err
}

func (b *observedBody) Close() error {
	err := b.rc.Close()
	c := b.c
	c.mu.Lock()
	if !c.done {
		c.finishLocked(endClosed, nil)
	}
	c.mu.Unlock()
	return err
}

// abandon runs when the request context ends, or the body becomes
// unreachable, before the body was finished.
func (c *call) abandon() {
	c.mu.Lock()
	if !c.done {
		c.finishLocked(endCanceled, context.Cause(c.ctx))
	}
	c.mu.Unlock()
}

// observe notes p, read at now. c.mu is held.
func (c *call) observe(p []byte, now time.Time) {
	if c.bytes == 0 {
		c.firstByte = now
	}
	c.bytes += int64(len(p))
	c.lastByte = now
	if c.obs != nil && !c.encoded {
		c.now = now
		c.obs.Write(p)
	}
}

// onEvent is the observer's sink; it runs inside observe (c.mu held).
func (c *call) onEvent(ev *stream.Event) {
	if gap, ok := c.note(ev, c.now); ok {
		c.chunkOpt.record(c, gap)
	}
}

// finishLocked ends the call's record; c.mu is held and c.done is false.
func (c *call) finishLocked(kind endKind, err error) {
	c.done = true
	end := time.Now()
	if c.stopAfter != nil {
		c.stopAfter()
	}
	r := c.result(kind, err, end)
	if c.obs != nil {
		c.t.putObserver(c.obs)
		c.obs = nil
	}
	if c.hasConn {
		if c.retryCount > 0 || c.status == http.StatusTooManyRequests || c.status >= 500 {
			c.t.kernelRetry(c.conn.Remote)
		}
		c.t.connReleased(c.conn)
	}
	ksum := c.t.kernelCallEnd(c, end)
	c.record(&r)
	if c.span != nil {
		c.span.SetAttributes(c.endAttrs(&r)...)
		c.span.SetAttributes(c.t.callKernelAttrs(&ksum)...)
		if r.errorType != "" && !r.cancelled {
			c.span.SetStatus(codes.Error, r.errorType)
		}
		c.span.End()
	}
	c.parent.noteClientCall(clientCall{Retrieval: c.retrieval, Duration: r.e2e, TTFB: r.ttfb,
		Status: c.status, ErrorType: r.errorType, DNS: r.dns, Connect: r.connect, TLS: r.tls})
}

// callResult holds the indicators of one finished call.
type callResult struct {
	slis                       // the SLIs measured from the response (measure.go)
	dns, connect, tls, server  time.Duration
	hasDNS, hasConnect, hasTLS bool
	hasServer, hasConn         bool
	streaming                  bool
	inTokens, reportedOut      int64        // the usage the stream reported; -1 = not reported
	usage                      stream.Usage // all of it, the cache and reasoning details included
	respModel                  string
	format, dialect            string
	errorType                  string
	cancelled, truncated       bool
}

func (c *call) result(kind endKind, err error, end time.Time) callResult {
	r := callResult{inTokens: -1, reportedOut: -1, usage: stream.Usage{Input: -1, Output: -1, CacheRead: -1, CacheWrite: -1, Reasoning: -1},
		format: "unknown", dialect: "unknown"}
	if c.obs != nil {
		if kind != endEOF || !c.sawDone {
			c.obs.Close() // a trailing event without terminator, or a JSON body
		}
		f := c.obs.Format()
		r.format, r.dialect = f.String(), c.obs.Dialect().String()
		r.streaming = f == stream.FormatSSE || f == stream.FormatNDJSON
		u, _ := c.obs.Usage()
		r.inTokens, r.reportedOut, r.usage = u.Input, u.Output, u
		r.respModel = c.obs.Model()
	}
	// A body read to its end (EOF, the terminal event, all its
	// Content-Length) ends with its last byte, not when it was closed.
	x := exchange{start: c.start, end: end, chunks: &c.chunkTimes, streaming: r.streaming,
		reported: r.reportedOut, estimate: r.streaming}
	if c.bytes > 0 && (kind == endEOF || kind == endClosed && (c.sawDone || c.complete())) {
		x.end = c.lastByte
	}
	if v := c.gotTTB.Load(); v > 0 {
		x.firstByte = c.start.Add(time.Duration(v))
	} else if c.bytes > 0 {
		x.firstByte = c.firstByte
	}
	r.slis = x.measure()
	r.dns, r.hasDNS = span64(&c.dnsStart, &c.dnsDone)
	r.connect, r.hasConnect = span64(&c.connStart, &c.connDone)
	r.tls, r.hasTLS = span64(&c.tlsStart, &c.tlsDone)
	r.hasConn = c.gotConn.Load() > 0
	if w, g := c.wroteReq.Load(), c.gotTTB.Load(); w > 0 && g >= w {
		r.server, r.hasServer = time.Duration(g-w), true
	}
	c.outcome(kind, err, &r)
	if c.provider == "" {
		c.provider = providerForDialect(r.dialect)
	}
	return r
}

// outcome sets the call's error.type, and whether it was cancelled or its
// stream truncated.
func (c *call) outcome(kind endKind, err error, r *callResult) {
	switch {
	case kind == endError && c.status == 0:
		r.errorType = c.classify(err)
	case c.status >= 400:
		r.errorType = httpStatusText(c.status)
	case kind == endError:
		r.errorType = c.classify(err)
	case kind == endClosed && !c.sawDone && !c.complete():
		r.errorType, r.cancelled = "cancelled", true
	case kind == endCanceled:
		r.errorType, r.cancelled = "cancelled", true
		if c.pastDeadline() || errors.Is(err, context.DeadlineExceeded) {
			r.errorType, r.cancelled = "timeout", false
		}
	case c.streamErr:
		r.errorType = "stream_error"
	case kind == endEOF && r.streaming && r.dialect != "unknown" && !c.sawDone:
		r.errorType, r.truncated = "truncated", true
	}
	if r.errorType == "cancelled" {
		r.cancelled = true
	}
}

// classify maps a failure of the call to error.type; a failure at or after
// the request context's deadline is a timeout whatever the transport reports
// (the same holds for a body abandoned when its context ended: outcome).
// http.Client's Timeout cancels a wrapped transport through its own timer,
// with a plain "request canceled", and that timer can fire before the
// context's does: the context may not say it is done yet.
func (c *call) classify(err error) string {
	if c.pastDeadline() {
		return "timeout"
	}
	return classifyErr(err)
}

// pastDeadline reports whether the request context's deadline, if it has
// one, has passed (to within a millisecond).
func (c *call) pastDeadline() bool {
	if c.ctx == nil {
		return false
	}
	dl, ok := c.ctx.Deadline()
	return ok && time.Until(dl) <= time.Millisecond
}

// complete reports whether a body closed before EOF was nevertheless read to
// the end of its content: all of its Content-Length, or, for a retrieval
// call whose body is not decoded, any of it (JSON decoders stop reading at
// the end of the value).
func (c *call) complete() bool {
	if c.contentLength >= 0 {
		return c.bytes >= c.contentLength
	}
	return c.retrieval && c.bytes > 0
}

// span64 returns done − start when both were seen.
func span64(start, done *atomic.Int64) (time.Duration, bool) {
	s, d := start.Load(), done.Load()
	if s <= 0 || d < s {
		return 0, false
	}
	return time.Duration(d - s), true
}

func (c *call) spanName() string {
	if c.retrieval {
		if c.serverAddr != "" {
			return "retrieval " + c.serverAddr
		}
		return "retrieval"
	}
	if c.model != "" {
		return c.operation + " " + c.model
	}
	return c.operation
}

func (c *call) startAttrs() []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 8)
	if c.retrieval {
		attrs = append(attrs, semconv.SLOClientRetrieval.Bool(true))
	} else {
		attrs = append(attrs, semconv.GenAIOperationName.String(c.operation))
		if c.provider != "" {
			attrs = append(attrs, semconv.GenAIProviderName.String(c.provider))
		}
		if c.model != "" {
			attrs = append(attrs, semconv.GenAIRequestModel.String(c.model))
		}
	}
	if c.serverAddr != "" {
		attrs = append(attrs, semconv.ServerAddress.String(c.serverAddr))
	}
	if c.serverPort > 0 {
		attrs = append(attrs, semconv.ServerPort.Int(c.serverPort))
	}
	if c.retryCount >= 0 {
		attrs = append(attrs, semconv.SLORetries.Int(c.retryCount))
	}
	return attrs
}

func (c *call) endAttrs(r *callResult) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 28)
	if c.status > 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode.Int(c.status))
	}
	attrs = append(attrs, semconv.SLOE2EMs.Float64(durMs(r.e2e)))
	if !c.retrieval {
		attrs = append(attrs, semconv.SLOStreamFormat.String(r.format), semconv.SLOStreamDialect.String(r.dialect))
		if c.provider != "" {
			attrs = append(attrs, semconv.GenAIProviderName.String(c.provider))
		}
	}
	if r.respModel != "" {
		attrs = append(attrs, semconv.GenAIResponseModel.String(r.respModel))
	}
	if r.hasTTFB {
		attrs = append(attrs, semconv.SLOProviderTTFBMs.Float64(durMs(r.ttfb)))
	}
	if r.hasDNS {
		attrs = append(attrs, semconv.SLORetrievalDNSMs.Float64(durMs(r.dns)))
	}
	if r.hasConnect {
		attrs = append(attrs, semconv.SLONetConnectMs.Float64(durMs(r.connect)))
	}
	if r.hasTLS {
		attrs = append(attrs, semconv.SLONetTLSMs.Float64(durMs(r.tls)))
	}
	if r.hasConnect || r.hasTLS {
		attrs = append(attrs, semconv.SLORetrievalNetworkMs.Float64(durMs(r.connect+r.tls)))
	}
	if r.hasConn {
		attrs = append(attrs, semconv.SLONetConnReused.Bool(c.reused.Load()))
	}
	if c.hasConn && c.conn.Cookie != 0 {
		attrs = append(attrs, semconv.SLONetSocketCookie.Int64(int64(c.conn.Cookie)))
	}
	if c.retrieval && r.hasServer {
		attrs = append(attrs, semconv.SLORetrievalVectorDBMs.Float64(durMs(r.server)))
	}
	if r.hasTTFT {
		attrs = append(attrs, semconv.SLOTTFTMs.Float64(durMs(r.ttft)), semconv.SLOOutputChunks.Int64(c.outChunks))
	}
	if r.hasTPOT {
		attrs = append(attrs, semconv.SLOTPOTMs.Float64(durMs(r.tpot)), semconv.SLOTokensEstimated.Bool(r.estimated))
	}
	if r.inTokens >= 0 {
		attrs = append(attrs, semconv.GenAIUsageInputTokens.Int64(r.inTokens))
	}
	if r.reportedOut >= 0 {
		attrs = append(attrs, semconv.GenAIUsageOutputTokens.Int64(r.reportedOut))
	}
	attrs = usageAttrs(c.t.cfg.semconv, r.usage, attrs)
	if r.hasTTFT && c.t.cfg.semconv&SemconvLatest != 0 {
		attrs = append(attrs, semconv.GenAIResponseTimeToFirstChunk.Float64(r.ttft.Seconds()))
	}
	if c.finish != "" {
		attrs = append(attrs, semconv.GenAIResponseFinishReasons.StringSlice([]string{c.finish}))
	}
	if c.retryAfter > 0 {
		attrs = append(attrs, semconv.SLOProviderRetryAfterMs.Float64(durMs(c.retryAfter)))
	}
	if r.cancelled {
		attrs = append(attrs, semconv.SLOCancelled.Bool(true))
	}
	if r.truncated {
		attrs = append(attrs, semconv.SLOStreamTruncated.Bool(true))
	}
	if r.errorType != "" && !r.cancelled {
		attrs = append(attrs, semconv.ErrorType.String(r.errorType))
	}
	return attrs
}

// isStreamType reports whether a Content-Type is a stream's (SSE, NDJSON).
func isStreamType(ct string) bool {
	return strings.HasPrefix(ct, "text/event-stream") || strings.Contains(ct, "ndjson") ||
		strings.HasPrefix(ct, "application/jsonl")
}

// getObserverHint takes an observer from the tracker's pool, reset for a
// body with the given Content-Type and dialect hint.
func (t *Tracker) getObserverHint(contentType string, hint stream.Dialect, sink func(*stream.Event)) *stream.Observer {
	if o, ok := t.obsPool.Get().(*stream.Observer); ok {
		o.Reset(contentType, hint, sink)
		return o
	}
	return stream.NewObserver(contentType, hint, sink, stream.Config{})
}
