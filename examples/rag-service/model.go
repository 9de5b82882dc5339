package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/llmslo/slo"
)

// fakeModel answers OpenAI chat-completion requests with realistic pacing:
// prefill time grows with the prompt length, decode has per-token jitter.
type fakeModel struct {
	prefillBase    time.Duration
	prefillPerChar time.Duration
	tokenDelay     time.Duration
	jitter         time.Duration
}

type chatRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	MaxTokens int `json:"max_tokens"`
}

var answer = strings.Fields("An error budget is the share of requests a service may fail or serve slowly " +
	"within its objective over a period; burn rate is how fast that budget is being spent relative to " +
	"the rate that would spend exactly all of it by the end of the period.")

func (m *fakeModel) chatCompletions(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, `{"error":{"message":"invalid JSON body","type":"invalid_request_error"}}`, http.StatusBadRequest)
		return
	}
	if req.Model == "" {
		req.Model = "fake-1"
	}
	prompt := 0
	for _, msg := range req.Messages {
		prompt += len(msg.Content)
	}
	inTokens := int64(prompt/4 + 1)
	n := len(answer)
	if req.MaxTokens > 0 && req.MaxTokens < n {
		n = req.MaxTokens
	}
	rq := slo.RequestFrom(r.Context())
	rq.Model(req.Model)
	rq.Provider("llmslo-fake")

	// Prefill.
	if !sleep(r, m.prefillBase+time.Duration(prompt)*m.prefillPerChar) {
		return
	}
	id := fmt.Sprintf("chatcmpl-%x", rand.Uint64())
	if !req.Stream {
		for range n {
			if !sleep(r, m.decodeDelay()) {
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"id": id, "object": "chat.completion", "created": time.Now().Unix(), "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": strings.Join(answer[:n], " ")}}},
			"usage": map[string]any{"prompt_tokens": inTokens, "completion_tokens": n, "total_tokens": inTokens + int64(n)},
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	flusher, _ := w.(http.Flusher)
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": id, "object": "chat.completion.chunk", "created": time.Now().Unix(), "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	send(chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	for i := range n {
		if i > 0 && !sleep(r, m.decodeDelay()) {
			return
		}
		tok := answer[i]
		if i > 0 {
			tok = " " + tok
		}
		send(chunk(map[string]any{"content": tok}, nil))
	}
	send(chunk(map[string]any{}, "stop"))
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		send(map[string]any{"id": id, "object": "chat.completion.chunk", "created": time.Now().Unix(), "model": req.Model,
			"choices": []any{}, "usage": map[string]any{"prompt_tokens": inTokens, "completion_tokens": n, "total_tokens": inTokens + int64(n)}})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}

func (m *fakeModel) decodeDelay() time.Duration {
	if m.jitter <= 0 {
		return m.tokenDelay
	}
	return m.tokenDelay - m.jitter + time.Duration(rand.Int64N(int64(2*m.jitter)))
}

// sleep waits d or until the client goes away; it reports whether to go on.
func sleep(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
