package slo_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"

	"github.com/llmslo/slo"
	"github.com/llmslo/slo/internal/providertest"
	openai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// An OpenAI client measured by the tracker: every call gets a client span
// and the GenAI client metrics; a streamed call also its TTFT and TPOT.
func ExampleTracker_Transport() {
	provider := providertest.NewServer(providertest.Always(providertest.Response{Chunks: 3}))
	defer provider.Close()

	t, err := slo.New(slo.WithoutProbes())
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	client := openai.NewClient(
		option.WithBaseURL(provider.URL+"/v1/"), option.WithAPIKey("key"),
		option.WithHTTPClient(&http.Client{Transport: t.Transport(nil)}),
	)
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say three words.")},
	})
	defer stream.Close()
	for stream.Next() {
		if c := stream.Current(); len(c.Choices) > 0 {
			fmt.Print(c.Choices[0].Delta.Content)
		}
	}
	fmt.Println()
	// Output: tok0 tok1 tok2
}

// Calls to a vector database are measured as retrieval: their time counts
// as retrieval time of the server request they are made for, not as
// provider time.
func ExampleRetrieval() {
	t, err := slo.New(slo.WithoutProbes())
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	vectors := &http.Client{Transport: t.Transport(nil, slo.Retrieval())}
	h := t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), "POST", "http://qdrant:6333/collections/docs/points/search", nil)
		if resp, err := vectors.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		// … then call the LLM provider through t.Transport(nil).
	}))
	_ = h
}
