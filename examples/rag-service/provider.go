package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// fakeProvider is an OpenAI-compatible model server (POST /v1/chat/completions,
// streaming and not) with realistic pacing: prefill time grows with the prompt
// length, decode has per-token jitter. The answer is stitched from the context
// the RAG service put into the system message, so it reads like one.
type fakeProvider struct {
	prefillBase     time.Duration // fixed part of the prefill (queueing, scheduling)
	prefillPerToken time.Duration // per prompt token (≈ 4 characters)
	tokenDelay      time.Duration // mean decode time per output token
	jitter          time.Duration // decode jitter: uniform in ±jitter
	maxTokens       int           // answer length cap
}

func newFakeProvider() *fakeProvider {
	return &fakeProvider{
		prefillBase:     30 * time.Millisecond,
		prefillPerToken: 300 * time.Microsecond,
		tokenDelay:      10 * time.Millisecond,
		jitter:          3 * time.Millisecond,
		maxTokens:       48,
	}
}

// chatMessage is an OpenAI chat message; Content is a string or an array of
// content parts.
type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// text returns the message's text (the text parts joined, for an array).
func (m chatMessage) text() string {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(m.Content, &parts) == nil {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.Text)
		}
		return b.String()
	}
	return ""
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// chatRequest is the subset of an OpenAI chat-completion request this example uses.
type chatRequest struct {
	Model               string         `json:"model"`
	Messages            []chatMessage  `json:"messages"`
	Stream              bool           `json:"stream,omitempty"`
	StreamOptions       *streamOptions `json:"stream_options,omitempty"`
	MaxTokens           int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens int            `json:"max_completion_tokens,omitempty"`
	Temperature         *float64       `json:"temperature,omitempty"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func (p *fakeProvider) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", p.chatCompletions)
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"object":"list","data":[{"id":"fake-1","object":"model","owned_by":"llmslo"}]}`)
	})
	return mux
}

func (p *fakeProvider) chatCompletions(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeOpenAIError(w, http.StatusBadRequest, "invalid_request_error", "invalid JSON body: "+err.Error())
		return
	}
	if req.Model == "" {
		req.Model = "fake-1"
	}
	chars := 0
	for _, m := range req.Messages {
		chars += len(m.text())
	}
	promptTokens := chars/4 + 1
	words := fakeAnswer(req.Messages)
	n := min(len(words), p.maxTokens)
	if lim := max(req.MaxTokens, req.MaxCompletionTokens); lim > 0 {
		n = min(n, lim)
	}
	words = words[:n]
	u := usage{PromptTokens: promptTokens, CompletionTokens: n, TotalTokens: promptTokens + n}

	// Prefill: grows with the prompt.
	if !sleepCtx(r, p.prefillBase+time.Duration(promptTokens)*p.prefillPerToken) {
		return
	}
	id := fmt.Sprintf("chatcmpl-%016x", rand.Uint64())
	created := time.Now().Unix()
	if !req.Stream {
		for range n {
			if !sleepCtx(r, p.decodeDelay()) {
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": strings.Join(words, "")}}},
			"usage": u,
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	send := func(v any) bool {
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	if !send(chunk(map[string]any{"role": "assistant", "content": ""}, nil)) {
		return
	}
	for i, word := range words {
		if i > 0 && !sleepCtx(r, p.decodeDelay()) {
			return
		}
		if !send(chunk(map[string]any{"content": word}, nil)) {
			return
		}
	}
	if !send(chunk(map[string]any{}, "stop")) {
		return
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		if !send(map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{}, "usage": u}) {
			return
		}
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	_ = rc.Flush()
}

func (p *fakeProvider) decodeDelay() time.Duration {
	if p.jitter <= 0 {
		return p.tokenDelay
	}
	return p.tokenDelay - p.jitter + rand.N(2*p.jitter)
}

// fakeAnswer builds an answer from the numbered context passages ("[1] Title:
// text") of the system message, or a generic one without context. The words
// keep their leading space, one word per output token.
func fakeAnswer(msgs []chatMessage) []string {
	var passages []string
	question := ""
	for _, m := range msgs {
		switch m.Role {
		case "system":
			for _, line := range strings.Split(m.text(), "\n") {
				if strings.HasPrefix(line, "[") {
					passages = append(passages, line)
				}
			}
		case "user":
			question = m.text()
		}
	}
	var b strings.Builder
	if len(passages) == 0 {
		fmt.Fprintf(&b, "I have no notes on %q, but here is a general answer: measure time to first token and time per output token separately, and give each an objective.", truncate(question, 60))
	} else {
		for i, p := range passages[:min(2, len(passages))] {
			ref, rest, _ := strings.Cut(p, " ")
			_, body, ok := strings.Cut(rest, ": ")
			if !ok {
				body = rest
			}
			first, _, _ := strings.Cut(body, ". ")
			if i == 0 {
				fmt.Fprintf(&b, "According to %s, %s.", ref, lowerFirst(strings.TrimSuffix(first, ".")))
			} else {
				fmt.Fprintf(&b, " Also %s: %s.", ref, lowerFirst(strings.TrimSuffix(first, ".")))
			}
		}
	}
	fields := strings.Fields(b.String())
	for i := 1; i < len(fields); i++ {
		fields[i] = " " + fields[i]
	}
	return fields
}

func lowerFirst(s string) string {
	if len(s) > 1 && s[0] >= 'A' && s[0] <= 'Z' && !(s[1] >= 'A' && s[1] <= 'Z') {
		return string(s[0]+'a'-'A') + s[1:]
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// writeOpenAIError writes an OpenAI-style error body.
func writeOpenAIError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": typ, "code": status}})
	_, _ = w.Write(append(b, '\n'))
}

// sleepCtx waits d or until the request's client goes away; it reports
// whether to go on.
func sleepCtx(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
