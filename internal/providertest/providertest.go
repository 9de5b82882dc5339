package providertest

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Dialect is the wire protocol a request is answered in, chosen by its path.
type Dialect int

const (
	// Unknown paths are answered 404.
	Unknown Dialect = iota
	// OpenAIChat is POST …/chat/completions (OpenAI, Ollama /v1, vLLM, LiteLLM).
	OpenAIChat
	// OpenAIResponses is POST …/responses.
	OpenAIResponses
	// Anthropic is POST …/messages.
	Anthropic
	// Ollama is Ollama's native POST /api/chat (NDJSON when streaming).
	Ollama
	// OllamaGenerate is Ollama's native POST /api/generate.
	OllamaGenerate
)

// String returns the dialect's name.
func (d Dialect) String() string {
	switch d {
	case OpenAIChat:
		return "openai_chat"
	case OpenAIResponses:
		return "openai_responses"
	case Anthropic:
		return "anthropic"
	case Ollama:
		return "ollama"
	case OllamaGenerate:
		return "ollama_generate"
	}
	return "unknown"
}

// DialectForPath returns the dialect a request path is answered in.
func DialectForPath(path string) Dialect {
	switch {
	case strings.HasSuffix(path, "/chat/completions"):
		return OpenAIChat
	case strings.HasSuffix(path, "/responses"):
		return OpenAIResponses
	case strings.HasSuffix(path, "/messages"):
		return Anthropic
	case strings.HasSuffix(path, "/api/chat"):
		return Ollama
	case strings.HasSuffix(path, "/api/generate"):
		return OllamaGenerate
	}
	return Unknown
}

// Response is what one request gets. The zero value is a successful answer
// of 5 output chunks, sent as fast as possible, with usage.
type Response struct {
	// Model is the model the response reports; "" echoes the request's
	// "model", or "test-model" when it has none.
	Model string
	// Chunks is the number of output chunks (tokens); 0 means 5. Ignored
	// when Text is set.
	Chunks int
	// Text, when set, are the output deltas, one per chunk.
	Text []string
	// HeaderDelay is the time from the handler's start to the response
	// headers (for a streamed response) — the provider's queueing time.
	HeaderDelay time.Duration
	// Prefill is the time from the headers to the first output chunk. A
	// streamed response sends its preamble (OpenAI's role chunk, Anthropic's
	// message_start, response.created) with the headers, so time to first
	// byte and time to first token differ by Prefill.
	Prefill time.Duration
	// Gap is the time between consecutive output chunks (each is scheduled
	// Gap after the previous one was written). A non-streamed
	// response is sent whole after HeaderDelay + Prefill + Gap·(chunks−1).
	Gap time.Duration
	// InputTokens is the reported input usage; 0 means 12.
	InputTokens int
	// OutputTokens is the reported output usage; 0 means the chunk count.
	OutputTokens int
	// NoUsage leaves usage out of the response entirely (OpenAI chat
	// streams then end without a usage chunk; the other dialects report 0
	// where their format requires a field).
	NoUsage bool
	// Status, when not 0 or 200, answers with that status and an error body
	// in the dialect's format, after HeaderDelay.
	Status int
	// RetryAfter is sent as the Retry-After header when not empty.
	RetryAfter string
	// Header holds extra response headers.
	Header http.Header
	// ResetAfter > 0 aborts the connection (HTTP/1: closed without the
	// final chunk; HTTP/2: RST_STREAM) after that many output chunks.
	ResetAfter int
	// Truncate ends the stream normally after the output chunks, without
	// the finish, usage and terminal events.
	Truncate bool
	// Gzip compresses the body (Content-Encoding: gzip), flushing per chunk.
	Gzip bool
	// Pad adds a field of Pad bytes to every output chunk (after the
	// output), to make events as large as wanted.
	Pad int
	// Stream overrides the request's "stream" field when not nil.
	Stream *bool
}

// Request is a request as the server received it.
type Request struct {
	N       int // 1 for the first request the server received
	Dialect Dialect
	Method  string
	Path    string
	Header  http.Header
	Body    []byte
	Model   string // the body's "model"
	Stream  bool   // whether the response is streamed
}

// Truth is what the handler itself saw while answering, in its own clock.
type Truth struct {
	Start        time.Time // the handler started
	Headers      time.Time // the headers (and a stream's preamble) were flushed
	FirstOutput  time.Time // just before the first output chunk was written; zero if none
	LastOutput   time.Time // just before the last output chunk was written; zero if none
	End          time.Time // the handler returned
	OutputChunks int       // output chunks written
	Aborted      bool      // the connection was reset on purpose (ResetAfter)
	ClientGone   bool      // the request context ended before the response did
}

// Served is one request and how it was answered.
type Served struct {
	Request  Request
	Response Response
	Truth    Truth
}

// Plan chooses the response to a request.
type Plan func(r *Request) Response

// Always answers every request with resp.
func Always(resp Response) Plan { return func(*Request) Response { return resp } }

// Sequence answers the n-th request with resps[n-1], and every request after
// the last with the last one (no responses: the zero Response).
func Sequence(resps ...Response) Plan {
	return func(r *Request) Response {
		if len(resps) == 0 {
			return Response{}
		}
		return resps[min(r.N, len(resps))-1]
	}
}

// Handler answers provider requests according to a Plan and records them.
// Use it directly with a listener of your own (a slow-TLS listener, a
// network namespace); [Server] wraps it in an httptest.Server.
type Handler struct {
	plan Plan

	mu     sync.Mutex
	n      int
	served []Served
	notify chan struct{} // closed and replaced whenever a request finishes
}

// NewHandler returns a Handler answering with plan (nil: [Always] of the
// zero Response).
func NewHandler(plan Plan) *Handler {
	if plan == nil {
		plan = Always(Response{})
	}
	return &Handler{plan: plan, notify: make(chan struct{})}
}

// SetPlan replaces the plan for the requests that arrive from now on.
func (h *Handler) SetPlan(plan Plan) {
	if plan == nil {
		plan = Always(Response{})
	}
	h.mu.Lock()
	h.plan = plan
	h.mu.Unlock()
}

// Served returns the requests answered completely so far, in the order they
// finished.
func (h *Handler) Served() []Served {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Served(nil), h.served...)
}

// WaitServed waits until at least n requests were answered completely (the
// handler returned) and returns them all, or fails after timeout.
func (h *Handler) WaitServed(n int, timeout time.Duration) ([]Served, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		if len(h.served) >= n {
			out := append([]Served(nil), h.served...)
			h.mu.Unlock()
			return out, nil
		}
		ch := h.notify
		h.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			return nil, fmt.Errorf("providertest: %d of %d requests served after %v", len(h.Served()), n, timeout)
		}
	}
}

// Server is an httptest.Server speaking the provider dialects; see
// [Handler] for what it answers and records.
type Server struct {
	*httptest.Server
	*Handler
}

// NewServer starts a plain HTTP/1.1 server answering with plan.
func NewServer(plan Plan) *Server {
	h := NewHandler(plan)
	return &Server{Server: httptest.NewServer(h), Handler: h}
}

// NewTLSServer starts an HTTPS (HTTP/1.1) server; use its Client() or
// Client().Transport, which trust its certificate.
func NewTLSServer(plan Plan) *Server {
	h := NewHandler(plan)
	return &Server{Server: httptest.NewTLSServer(h), Handler: h}
}

// NewHTTP2Server starts an HTTPS server that negotiates HTTP/2; its
// Client().Transport speaks HTTP/2 to it.
func NewHTTP2Server(plan Plan) *Server {
	h := NewHandler(plan)
	s := httptest.NewUnstartedServer(h)
	s.EnableHTTP2 = true
	s.StartTLS()
	return &Server{Server: s, Handler: h}
}

// ServeHTTP answers r according to the plan.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var tr Truth
	tr.Start = time.Now()
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	req := Request{Dialect: DialectForPath(r.URL.Path), Method: r.Method, Path: r.URL.Path,
		Header: r.Header.Clone(), Body: body}
	var peek struct {
		Model  string `json:"model"`
		Stream *bool  `json:"stream"`
	}
	_ = json.Unmarshal(body, &peek)
	req.Model = peek.Model
	switch req.Dialect {
	case Ollama, OllamaGenerate:
		req.Stream = peek.Stream == nil || *peek.Stream // Ollama streams by default
	default:
		req.Stream = peek.Stream != nil && *peek.Stream
	}
	h.mu.Lock()
	h.n++
	req.N = h.n
	plan := h.plan
	h.mu.Unlock()
	resp := plan(&req)
	if resp.Stream != nil {
		req.Stream = *resp.Stream
	}

	defer func() {
		tr.End = time.Now()
		if r.Context().Err() != nil && !tr.Aborted {
			tr.ClientGone = true
		}
		h.mu.Lock()
		h.served = append(h.served, Served{Request: req, Response: resp, Truth: tr})
		close(h.notify)
		h.notify = make(chan struct{})
		h.mu.Unlock()
	}()
	if req.Dialect == Unknown {
		http.NotFound(w, r)
		return
	}
	g := newGen(w, r, &req, &resp, &tr)
	g.serve()
	if tr.Aborted {
		panic(http.ErrAbortHandler)
	}
}

// gen writes one response.
type gen struct {
	w      http.ResponseWriter
	ctx    context.Context
	req    *Request
	resp   *Response
	tr     *Truth
	out    io.Writer
	gz     *gzip.Writer
	fl     http.Flusher
	model  string
	text   []string
	in     int
	outTok int
	pad    string
	seq    int
}

func newGen(w http.ResponseWriter, r *http.Request, req *Request, resp *Response, tr *Truth) *gen {
	g := &gen{w: w, ctx: r.Context(), req: req, resp: resp, tr: tr, out: w}
	g.fl, _ = w.(http.Flusher)
	g.model = resp.Model
	if g.model == "" {
		g.model = req.Model
	}
	if g.model == "" {
		g.model = "test-model"
	}
	g.text = resp.Text
	if len(g.text) == 0 {
		n := resp.Chunks
		if n <= 0 {
			n = 5
		}
		g.text = make([]string, n)
		for i := range g.text {
			g.text[i] = fmt.Sprintf("tok%d ", i)
		}
	}
	g.in = resp.InputTokens
	if g.in == 0 {
		g.in = 12
	}
	g.outTok = resp.OutputTokens
	if g.outTok == 0 {
		g.outTok = len(g.text)
	}
	if resp.NoUsage {
		g.in, g.outTok = 0, 0
	}
	if resp.Pad > 0 {
		g.pad = strings.Repeat("a", resp.Pad)
	}
	return g
}

// sleepUntil sleeps until t or until the client goes away (false).
func (g *gen) sleepUntil(t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return g.ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-g.ctx.Done():
		return false
	}
}

func (g *gen) header(contentType string, status int) {
	h := g.w.Header()
	h.Set("Content-Type", contentType)
	for k, vs := range g.resp.Header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	if g.resp.RetryAfter != "" {
		h.Set("Retry-After", g.resp.RetryAfter)
	}
	if g.resp.Gzip {
		h.Set("Content-Encoding", "gzip")
		h.Del("Content-Length")
		g.gz = gzip.NewWriter(g.w)
		g.out = g.gz
	}
	g.w.WriteHeader(status)
}

func (g *gen) flush() {
	if g.gz != nil {
		_ = g.gz.Flush()
	}
	if g.fl != nil {
		g.fl.Flush()
	}
}

func (g *gen) close() {
	if g.gz != nil {
		_ = g.gz.Close()
	}
	if g.fl != nil {
		g.fl.Flush()
	}
}

// event writes one SSE event (name may be empty) and flushes.
func (g *gen) event(name, data string) {
	if name != "" {
		fmt.Fprintf(g.out, "event: %s\n", name)
	}
	fmt.Fprintf(g.out, "data: %s\n\n", data)
	g.flush()
}

// line writes one NDJSON line and flushes.
func (g *gen) line(data string) {
	io.WriteString(g.out, data+"\n")
	g.flush()
}

func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (g *gen) padField() string {
	if g.pad == "" {
		return ""
	}
	return `,"x_pad":"` + g.pad + `"`
}

func (g *gen) serve() {
	start := g.tr.Start
	if g.resp.Status != 0 && g.resp.Status != http.StatusOK {
		if !g.sleepUntil(start.Add(g.resp.HeaderDelay)) {
			return
		}
		g.errorBody()
		return
	}
	if !g.req.Stream {
		d := g.resp.HeaderDelay + g.resp.Prefill + g.resp.Gap*time.Duration(max(len(g.text)-1, 0))
		if !g.sleepUntil(start.Add(d)) {
			return
		}
		g.whole()
		return
	}
	if !g.sleepUntil(start.Add(g.resp.HeaderDelay)) {
		return
	}
	switch g.req.Dialect {
	case OpenAIChat:
		g.header("text/event-stream", 200)
		g.event("", g.chatChunk(`{"role":"assistant","content":""}`, "null"))
	case OpenAIResponses:
		g.header("text/event-stream", 200)
		g.event("response.created", g.responsesEvent("response.created", `"response":`+g.responseObject("in_progress", false)))
		g.event("response.output_item.added", g.responsesEvent("response.output_item.added",
			`"output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","role":"assistant","content":[]}`))
		g.event("response.content_part.added", g.responsesEvent("response.content_part.added",
			`"item_id":"msg_1","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}`))
	case Anthropic:
		g.header("text/event-stream", 200)
		g.event("message_start", fmt.Sprintf(`{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":%s,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":%d,"output_tokens":1}}}`, js(g.model), g.in))
		g.event("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
		g.event("ping", `{"type": "ping"}`)
	case Ollama, OllamaGenerate:
		g.header("application/x-ndjson", 200)
	}
	g.tr.Headers = time.Now()
	next := g.tr.Headers.Add(g.resp.Prefill)
	for i, t := range g.text {
		if !g.sleepUntil(next) {
			return
		}
		// Timestamps are taken just before the write: the client cannot
		// see a chunk earlier, whatever happens to this goroutine after.
		now := time.Now()
		g.outputChunk(t)
		if i == 0 {
			g.tr.FirstOutput = now
		}
		g.tr.LastOutput = now
		g.tr.OutputChunks++
		next = now.Add(g.resp.Gap)
		if g.resp.ResetAfter > 0 && i+1 >= g.resp.ResetAfter {
			g.tr.Aborted = true
			return
		}
	}
	if !g.resp.Truncate {
		g.streamEnd()
	}
	g.close()
}

func (g *gen) outputChunk(t string) {
	switch g.req.Dialect {
	case OpenAIChat:
		g.event("", g.chatChunk(`{"content":`+js(t)+`}`, "null"))
	case OpenAIResponses:
		g.event("response.output_text.delta", g.responsesEvent("response.output_text.delta",
			`"item_id":"msg_1","output_index":0,"content_index":0,"delta":`+js(t)+`,"logprobs":[]`+g.padField()))
	case Anthropic:
		g.event("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":`+js(t)+`}`+g.padField()+`}`)
	case Ollama:
		g.line(`{"model":` + js(g.model) + `,"created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":` + js(t) + `},"done":false` + g.padField() + `}`)
	case OllamaGenerate:
		g.line(`{"model":` + js(g.model) + `,"created_at":"2025-01-01T00:00:00Z","response":` + js(t) + `,"done":false` + g.padField() + `}`)
	}
}

func (g *gen) streamEnd() {
	switch g.req.Dialect {
	case OpenAIChat:
		g.event("", g.chatChunk(`{}`, `"stop"`))
		if !g.resp.NoUsage {
			g.event("", fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1735689600,"model":%s,"choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`,
				js(g.model), g.in, g.outTok, g.in+g.outTok))
		}
		g.event("", "[DONE]")
	case OpenAIResponses:
		g.event("response.output_text.done", g.responsesEvent("response.output_text.done",
			`"item_id":"msg_1","output_index":0,"content_index":0,"text":`+js(strings.Join(g.text, ""))+`,"logprobs":[]`))
		g.event("response.completed", g.responsesEvent("response.completed", `"response":`+g.responseObject("completed", true)))
	case Anthropic:
		g.event("content_block_stop", `{"type":"content_block_stop","index":0}`)
		g.event("message_delta", fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":%d}}`, g.outTok))
		g.event("message_stop", `{"type":"message_stop"}`)
	case Ollama, OllamaGenerate:
		g.line(g.ollamaFinal())
	}
}

func (g *gen) chatChunk(delta, finish string) string {
	return fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1735689600,"model":%s,"system_fingerprint":"fp_test","choices":[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}]%s}`,
		js(g.model), delta, finish, g.padField())
}

func (g *gen) responsesEvent(typ, rest string) string {
	g.seq++
	return fmt.Sprintf(`{"type":%s,"sequence_number":%d,%s}`, js(typ), g.seq-1, rest)
}

func (g *gen) responseObject(status string, final bool) string {
	output, usage := "[]", "null"
	if final {
		output = `[{"id":"msg_1","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":` +
			js(strings.Join(g.text, "")) + `,"annotations":[]}]}]`
		if !g.resp.NoUsage {
			usage = fmt.Sprintf(`{"input_tokens":%d,"input_tokens_details":{"cached_tokens":0},"output_tokens":%d,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":%d}`,
				g.in, g.outTok, g.in+g.outTok)
		}
	}
	return fmt.Sprintf(`{"id":"resp_1","object":"response","created_at":1735689600,"status":%s,"model":%s,"output":%s,"parallel_tool_calls":true,"tool_choice":"auto","tools":[],"usage":%s}`,
		js(status), js(g.model), output, usage)
}

func (g *gen) ollamaFinal() string {
	usage := ""
	if !g.resp.NoUsage {
		usage = fmt.Sprintf(`,"prompt_eval_count":%d,"prompt_eval_duration":1000000,"eval_count":%d,"eval_duration":2000000`, g.in, g.outTok)
	}
	if g.req.Dialect == OllamaGenerate {
		return `{"model":` + js(g.model) + `,"created_at":"2025-01-01T00:00:00Z","response":"","done":true,"done_reason":"stop","total_duration":5000000,"load_duration":1000` + usage + `}`
	}
	return `{"model":` + js(g.model) + `,"created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":5000000,"load_duration":1000` + usage + `}`
}

// whole writes a non-streamed response.
func (g *gen) whole() {
	text := strings.Join(g.text, "")
	var body string
	switch g.req.Dialect {
	case OpenAIChat:
		usage := ""
		if !g.resp.NoUsage {
			usage = fmt.Sprintf(`,"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}`, g.in, g.outTok, g.in+g.outTok)
		}
		body = fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion","created":1735689600,"model":%s,"system_fingerprint":"fp_test","choices":[{"index":0,"message":{"role":"assistant","content":%s},"logprobs":null,"finish_reason":"stop"}]%s%s}`,
			js(g.model), js(text), usage, g.padField())
	case OpenAIResponses:
		body = g.responseObject("completed", true)
	case Anthropic:
		body = fmt.Sprintf(`{"id":"msg_1","type":"message","role":"assistant","model":%s,"content":[{"type":"text","text":%s}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":%d,"output_tokens":%d}%s}`,
			js(g.model), js(text), g.in, g.outTok, g.padField())
	case Ollama:
		final := g.ollamaFinal()
		body = strings.Replace(final, `"content":""`, `"content":`+js(text), 1)
	case OllamaGenerate:
		final := g.ollamaFinal()
		body = strings.Replace(final, `"response":""`, `"response":`+js(text), 1)
	}
	now := time.Now()
	g.tr.Headers, g.tr.FirstOutput, g.tr.LastOutput, g.tr.OutputChunks = now, now, now, len(g.text)
	g.header("application/json", 200)
	io.WriteString(g.out, body)
	g.close()
}

// errorBody writes the dialect's error body with the response's status.
func (g *gen) errorBody() {
	status := g.resp.Status
	msg := http.StatusText(status)
	var body string
	switch g.req.Dialect {
	case Anthropic:
		typ := "api_error"
		switch {
		case status == http.StatusTooManyRequests:
			typ = "rate_limit_error"
		case status == 529:
			typ = "overloaded_error"
		case status < 500:
			typ = "invalid_request_error"
		}
		body = fmt.Sprintf(`{"type":"error","error":{"type":%s,"message":%s}}`, js(typ), js(msg))
	case Ollama, OllamaGenerate:
		body = fmt.Sprintf(`{"error":%s}`, js(msg))
	default:
		typ := "server_error"
		switch {
		case status == http.StatusTooManyRequests:
			typ = "rate_limit_exceeded"
		case status < 500:
			typ = "invalid_request_error"
		}
		body = fmt.Sprintf(`{"error":{"message":%s,"type":%s,"param":null,"code":null}}`, js(msg), js(typ))
	}
	g.header("application/json", status)
	g.tr.Headers = time.Now()
	io.WriteString(g.out, body)
	g.close()
}
