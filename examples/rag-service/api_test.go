package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/llmslo/slo/faults"
	"github.com/openai/openai-go/v3"
)

// TestAPIs exercises the non-streaming OpenAI path, /chat and the error
// answers, through real sockets.
func TestAPIs(t *testing.T) {
	a := startTestApp(t)
	c := newLoadClient(a.URL())
	res, err := c.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{
		Model:    "fake-1",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is a burn rate?")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Choices) != 1 || !strings.Contains(res.Choices[0].Message.Content, "burn rate") {
		t.Errorf("non-streaming answer %+v does not use the retrieved note", res.Choices)
	}
	if res.Usage.CompletionTokens == 0 || res.Usage.PromptTokens < 50 {
		t.Errorf("usage %+v: want completion tokens and a prompt with the retrieved context", res.Usage)
	}

	resp, err := http.Post(a.URL()+"/chat", "application/json", strings.NewReader(`{"message":"How is TPOT computed?"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("Sources: [1] Time per output token")) {
		t.Errorf("/chat: %s\n%s", resp.Status, body)
	}

	for _, tc := range []struct{ path, body string }{
		{"/v1/chat/completions", `{"model":"x"}`},
		{"/v1/chat/completions", `not json`},
		{"/chat", `{}`},
		{"/api/fault", `{}`},
	} {
		resp, err := http.Post(a.URL()+tc.path, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST %s %s: %s, want 400", tc.path, tc.body, resp.Status)
		}
	}
	resp, err = http.Post(a.URL()+"/api/fault", "application/json", strings.NewReader(`{"name":"memory_pressure"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("kernel fault over the API: %s, want 403", resp.Status)
	}

	// Retrieval down: the API answers 502 and the tracker counts an error.
	if err := a.injectFault(t.Context(), "slow_retrieval"); err != nil {
		t.Fatal(err)
	}
	a.retrFaults.Set(faultsRetrievalDown())
	resp, err = http.Post(a.URL()+"/chat", "application/json", strings.NewReader(`{"message":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("/chat with the vector store failing: %s, want 502", resp.Status)
	}
}

func FuzzRelaySSE(f *testing.F) {
	f.Add([]byte("data: {\"a\":1}\n\ndata: [DONE]\n\n"))
	f.Add([]byte(": c\nevent: e\ndata:x\r\n\r\n"))
	f.Add([]byte("data"))
	f.Fuzz(func(t *testing.T, in []byte) {
		n := 0
		_ = relaySSE(bytes.NewReader(in), func(d []byte) error {
			n++
			if bytes.ContainsAny(d, "\n") {
				t.Fatalf("data %q spans lines", d)
			}
			return nil
		})
		if lines := bytes.Count(in, []byte("data:")); n > lines {
			t.Fatalf("%d events from %d data: prefixes", n, lines)
		}
	})
}

func FuzzEmbed(f *testing.F) {
	f.Add("time to first token")
	f.Add("")
	f.Add("ÄÖÜ 429 429 429 retry-after")
	f.Fuzz(func(t *testing.T, s string) {
		v := embed(s)
		if len(v) != embedDim {
			t.Fatalf("dimension %d", len(v))
		}
		n := dot(v, v)
		if !(n == 0 || (n > 0.9999 && n < 1.0001)) {
			t.Fatalf("|v|² = %v, want 0 or 1", n)
		}
	})
}

func faultsRetrievalDown() faults.RetrievalPlan {
	return faults.RetrievalPlan{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable}
}
