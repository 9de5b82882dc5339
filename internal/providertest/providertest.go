package providertest

import (
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
	// CacheReadTokens, CacheWriteTokens and ReasoningTokens are the parts of
	// the input read from and written to the prompt cache and the part of
	// the output spent on reasoning, reported where the dialect has a field
	// for them: OpenAI chat (prompt_tokens_details.cached_tokens and
	// completion_tokens_details.reasoning_tokens), Responses
	// (input_tokens_details and output_tokens_details), Anthropic
	// (cache_read_input_tokens and cache_creation_input_tokens; its
	// input_tokens is then InputTokens less the two). Ollama reports none.
	// When all three are 0 the usage objects carry no such fields beyond
	// what the dialect always sends.
	CacheReadTokens, CacheWriteTokens, ReasoningTokens int
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
