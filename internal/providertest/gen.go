package providertest

// The response generator: one Response written in a request's dialect,
// streamed or whole, on the schedule it asks for, noting the Truth.

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

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

// newGen prepares the answer resp to req on w, noting what happens in tr.
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
		g.event("message_start", fmt.Sprintf(`{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":%s,"content":[],"stop_reason":null,"stop_sequence":null,"usage":%s}}`, js(g.model), g.anthropicUsage(1)))
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
			g.event("", fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1735689600,"model":%s,"choices":[],"usage":%s}`,
				js(g.model), g.chatUsage()))
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

// chatUsage is an OpenAI chat usage object, with its details when there are
// cache or reasoning tokens to report.
func (g *gen) chatUsage() string {
	details := ""
	if r := g.resp; !r.NoUsage && (r.CacheReadTokens != 0 || r.ReasoningTokens != 0) {
		details = fmt.Sprintf(`,"prompt_tokens_details":{"cached_tokens":%d,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":%d,"audio_tokens":0}`,
			r.CacheReadTokens, r.ReasoningTokens)
	}
	return fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d%s}`, g.in, g.outTok, g.in+g.outTok, details)
}

// anthropicUsage is an Anthropic usage object reporting out output tokens:
// its input_tokens leave out the cache reads and writes, reported beside.
func (g *gen) anthropicUsage(out int) string {
	r := g.resp
	if r.NoUsage || r.CacheReadTokens == 0 && r.CacheWriteTokens == 0 {
		return fmt.Sprintf(`{"input_tokens":%d,"output_tokens":%d}`, g.in, out)
	}
	return fmt.Sprintf(`{"input_tokens":%d,"cache_creation_input_tokens":%d,"cache_read_input_tokens":%d,"output_tokens":%d}`,
		g.in-r.CacheReadTokens-r.CacheWriteTokens, r.CacheWriteTokens, r.CacheReadTokens, out)
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
			usage = fmt.Sprintf(`{"input_tokens":%d,"input_tokens_details":{"cached_tokens":%d},"output_tokens":%d,"output_tokens_details":{"reasoning_tokens":%d},"total_tokens":%d}`,
				g.in, g.resp.CacheReadTokens, g.outTok, g.resp.ReasoningTokens, g.in+g.outTok)
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
			usage = `,"usage":` + g.chatUsage()
		}
		body = fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion","created":1735689600,"model":%s,"system_fingerprint":"fp_test","choices":[{"index":0,"message":{"role":"assistant","content":%s},"logprobs":null,"finish_reason":"stop"}]%s%s}`,
			js(g.model), js(text), usage, g.padField())
	case OpenAIResponses:
		body = g.responseObject("completed", true)
	case Anthropic:
		body = fmt.Sprintf(`{"id":"msg_1","type":"message","role":"assistant","model":%s,"content":[{"type":"text","text":%s}],"stop_reason":"end_turn","stop_sequence":null,"usage":%s%s}`,
			js(g.model), js(text), g.anthropicUsage(g.outTok), g.padField())
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
