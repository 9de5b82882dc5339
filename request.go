package slo

import (
	"context"
	"sync"
	"time"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/internal/stream"
	"go.opentelemetry.io/otel/trace"
)

type requestKey struct{}

// Request is the per-request handle that [Tracker.Instrument] puts in the
// request's context. A handler uses it to report what the response stream
// cannot show: the model, token usage, the provider. Get it with [RequestFrom].
//
// All methods are safe on a nil *Request (they do nothing) and safe for
// concurrent use. Reports made after the handler returned are ignored.
type Request struct {
	t      *Tracker
	start  time.Time
	route  string // requestRoute: set on entry from the outer pattern, else once the handler returned
	method string
	span   trace.Span
	own    bool      // the span was started by us and must be ended by us
	kern   kernelReq // the kernel side (kernel.go); set before the handler runs, then read-only

	// Observation state, written only by the goroutine that writes the response.
	sobs       *serverObs     // the response's stream observer, from the first body byte
	ctx        requestContext // the request's context node (handler.go), allocated with it
	ww         writerWrappers // the ResponseWriter wrapper (writer.go), allocated with it
	now        time.Time      // timestamp of the Write being observed
	status     int
	chunkTimes // output chunks, end marker, stream errors
	bytes      int64
	firstByte  time.Time
	flushed    bool
	hijacked   bool
	panicked   bool
	writeErr   bool
	requestID  string

	mu        sync.Mutex // guards the fields below
	done      bool
	model     string
	tenant    string // WithTenant's, or Request.Tenant's
	provider  string
	operation string
	inTokens  int64 // -1 when not reported
	outTokens int64 // -1 when not reported
	calls     attribution.Calls
}

// clientCall summarises one outbound call made on behalf of a server request
// (through [Tracker.Transport]); the client side reports it with noteClientCall.
type clientCall struct {
	Retrieval bool          // a retrieval backend, not an LLM provider
	Duration  time.Duration // call start → body fully read or closed
	TTFB      time.Duration // call start → first response byte; 0 when none
	Status    int           // HTTP status; 0 when no response arrived
	ErrorType string        // "" on success; a status code, "timeout", "reset", "dns", "connect", "cancelled" …
	DNS       time.Duration
	Connect   time.Duration
	TLS       time.Duration
}

// noteClientCall adds an outbound call made on behalf of r to r's summary
// of calls, which attribution reads.
func (r *Request) noteClientCall(c clientCall) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return
	}
	s := &r.calls
	s.N++
	if c.Retrieval {
		s.Retrieval++
		s.RetrievalWait += c.Duration
	} else {
		s.ProviderWait += c.Duration
		s.ProviderTTFB = max(s.ProviderTTFB, c.TTFB)
	}
	switch {
	case c.Status == 429:
		s.Throttled++
	case c.Status >= 500:
		s.ServerErrors++
	}
	if c.ErrorType == "reset" || c.ErrorType == "timeout" {
		s.Resets++
	}
	s.DNS += c.DNS
	s.Connect += c.Connect
	s.TLS += c.TLS
}

// RequestFrom returns the [Request] of the instrumented request ctx belongs
// to, or nil when there is none. The nil *Request is usable.
func RequestFrom(ctx context.Context) *Request {
	if ctx == nil {
		return nil
	}
	r, _ := ctx.Value(requestKey{}).(*Request)
	return r
}

// Model reports the model that serves the request (gen_ai.request.model).
func (r *Request) Model(model string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if !r.done {
		r.model = model
	}
	r.mu.Unlock()
}

// Tenant reports the tenant, or priority class, the request is served for,
// replacing what [WithTenant]'s function returned; objectives narrowed by
// [Objective.ForTenant] judge the request by it.
func (r *Request) Tenant(tenant string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if !r.done {
		r.tenant = tenant
	}
	r.mu.Unlock()
}

// Provider reports the GenAI provider behind the request
// (gen_ai.provider.name, e.g. "openai", "anthropic", "ollama").
func (r *Request) Provider(name string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if !r.done {
		r.provider = name
	}
	r.mu.Unlock()
}

// Operation reports the GenAI operation (gen_ai.operation.name); the default
// is "chat".
func (r *Request) Operation(name string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if !r.done {
		r.operation = name
	}
	r.mu.Unlock()
}

// Usage reports input and output token counts. Usage reported inside the
// response stream takes precedence; negative values mean "unknown".
func (r *Request) Usage(input, output int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if !r.done {
		r.inTokens, r.outTokens = max(input, -1), max(output, -1)
	}
	r.mu.Unlock()
}

// Tokens reports the number of output tokens, when the handler knows it but
// not the input count. It is shorthand for Usage with an unknown input count
// that keeps an input count reported before.
func (r *Request) Tokens(output int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if !r.done {
		r.outTokens = max(output, -1)
	}
	r.mu.Unlock()
}

// onWrite observes p, written at now, on the response.
func (r *Request) onWrite(p []byte, now time.Time, contentType string) {
	if len(p) == 0 {
		return
	}
	if r.bytes == 0 {
		r.firstByte = now
		r.sobs = r.t.getServerObserver(r, contentType)
	}
	r.bytes += int64(len(p))
	r.now = now
	if r.sobs != nil { // nil once finish has run: later writes are not observed
		r.sobs.obs.Write(p)
	}
}

// serverObs is a pooled stream observer whose sink is bound once, to the
// holder: the request it serves is set per request, so observing a response
// allocates nothing.
type serverObs struct {
	obs  *stream.Observer
	rq   *Request
	sink func(*stream.Event)
}

// onEvent is the stream observer's sink; it runs inside onWrite.
func (s *serverObs) onEvent(ev *stream.Event) { s.rq.note(ev, s.rq.now) }

// getServerObserver takes a server-side observer from the pool, reset for a
// response with the given Content-Type, delivering its events to rq.
func (t *Tracker) getServerObserver(rq *Request, contentType string) *serverObs {
	s, ok := t.srvObs.Get().(*serverObs)
	if !ok {
		s = &serverObs{}
		s.sink = s.onEvent
		s.obs = stream.NewObserver(contentType, stream.DialectUnknown, s.sink, stream.Config{})
	} else {
		s.obs.Reset(contentType, stream.DialectUnknown, s.sink)
	}
	s.rq = rq
	return s
}

// putServerObserver returns s to the pool.
func (t *Tracker) putServerObserver(s *serverObs) {
	if s != nil {
		s.obs.Reset("", stream.DialectUnknown, s.sink)
		s.rq = nil
		t.srvObs.Put(s)
	}
}

// sli holds the indicators of one finished request (docs/design.md §4).
type sli struct {
	slis                             // the SLIs measured from the response (measure.go)
	inTokens            int64        // -1 = unknown
	usage               stream.Usage // what the response's stream reported, cache and reasoning details included
	streaming           bool
	failed, cancelled   bool
	errorType           string
	status              int
	outChunks           int64
	route, method       string
	model, respModel    string
	tenant              string
	provider, operation string
	finishReason        string
	format, dialect     string
	hijacked            bool
	calls               attribution.Calls
}

// compute derives the SLIs at end, the moment the handler returned.
func (r *Request) compute(end time.Time, ctxErr error) sli {
	s := sli{status: r.status, route: r.route, method: r.method, outChunks: r.outChunks, finishReason: r.finish,
		hijacked: r.hijacked, format: "unknown", dialect: "unknown"}
	if s.status == 0 {
		s.status = 200
	}
	r.mu.Lock()
	r.done = true
	s.model, s.provider, s.operation, s.tenant = r.model, r.provider, r.operation, r.tenant
	s.calls = r.calls
	explicitIn, explicitOut := r.inTokens, r.outTokens
	r.mu.Unlock()

	usage := stream.Usage{Input: -1, Output: -1, CacheRead: -1, CacheWrite: -1, Reasoning: -1}
	if r.sobs != nil {
		o := r.sobs.obs
		o.Close() // may deliver a trailing event
		f := o.Format()
		s.format, s.dialect = f.String(), o.Dialect().String()
		s.streaming = f == stream.FormatSSE || f == stream.FormatNDJSON || (r.flushed && f != stream.FormatJSON)
		usage, _ = o.Usage()
		s.respModel = o.Model()
	}
	// Output tokens: the stream's own usage is authoritative, then the
	// handler's report, then the count of output chunks (estimated; a
	// non-streaming body is one "chunk": no estimate from it).
	x := exchange{start: r.start, end: end, chunks: &r.chunkTimes, streaming: s.streaming,
		reported: known(usage.Output, explicitOut), estimate: s.format != "json"}
	if r.bytes > 0 {
		x.firstByte = r.firstByte
	}
	s.slis = x.measure()
	s.inTokens = known(usage.Input, explicitIn)
	s.usage = usage
	r.outcome(&s, ctxErr)
	if s.model == "" {
		s.model = s.respModel
	}
	if s.operation == "" {
		s.operation = "chat"
	}
	if s.provider == "" {
		s.provider = providerForDialect(s.dialect)
	}
	return s
}

// outcome sets whether the request failed or was cancelled, and its
// error.type.
func (r *Request) outcome(s *sli, ctxErr error) {
	switch {
	case r.panicked:
		s.failed, s.errorType, s.status = true, "panic", 500
	case r.writeErr || (ctxErr != nil && !r.sawDone):
		// A client that hangs up right after reading the end marker (as the
		// OpenAI SDKs do on [DONE]) received the whole response.
		s.cancelled, s.errorType = true, "cancelled"
	case s.status >= 500 || s.status == 429:
		s.failed, s.errorType = true, httpStatusText(s.status)
	case r.streamErr:
		s.failed, s.errorType = true, "stream_error"
	}
}

func providerForDialect(d string) string {
	switch d {
	case "openai_chat", "openai_responses":
		return "openai"
	case "anthropic":
		return "anthropic"
	case "ollama":
		return "ollama"
	}
	return "unknown"
}
