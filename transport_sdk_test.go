package slo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	anthropicopt "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/google/go-cmp/cmp"
	"github.com/llmslo/slo/internal/providertest"
	"github.com/llmslo/slo/semconv"
	openai "github.com/openai/openai-go/v3"
	openaiopt "github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	goopenai "github.com/sashabaranov/go-openai"
	"github.com/tmc/langchaingo/llms"
	lcanthropic "github.com/tmc/langchaingo/llms/anthropic"
	lcollama "github.com/tmc/langchaingo/llms/ollama"
	lcopenai "github.com/tmc/langchaingo/llms/openai"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// sdkOutput is what an SDK call returned, as the SDK parsed it.
type sdkOutput struct {
	Text    string
	Model   string
	In, Out int64
	Raw     []string // the SDK's own view of each chunk or of the response
}

func rawJSON(v any) string {
	if r, ok := v.(interface{ RawJSON() string }); ok {
		return r.RawJSON()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

type sdkCase struct {
	name     string
	provider string
	dialect  string
	stream   bool
	noUsage  bool // the server reports no usage
	call     func(ctx context.Context, url string, hc *http.Client) (sdkOutput, error)
}

const sdkModel = "test-model-1"

func openaiGoClient(url string, hc *http.Client) openai.Client {
	return openai.NewClient(openaiopt.WithBaseURL(url+"/v1/"), openaiopt.WithAPIKey("k"),
		openaiopt.WithHTTPClient(hc), openaiopt.WithMaxRetries(0))
}

func anthropicClient(url string, hc *http.Client, opts ...anthropicopt.RequestOption) anthropic.Client {
	return anthropic.NewClient(append([]anthropicopt.RequestOption{anthropicopt.WithBaseURL(url + "/"),
		anthropicopt.WithAPIKey("k"), anthropicopt.WithHTTPClient(hc), anthropicopt.WithMaxRetries(0)}, opts...)...)
}

var sdkCases = []sdkCase{
	{"openai-go/chat", "openai", "openai_chat", false, false, func(ctx context.Context, url string, hc *http.Client) (sdkOutput, error) {
		c := openaiGoClient(url, hc)
		r, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: sdkModel,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		if err != nil {
			return sdkOutput{}, err
		}
		return sdkOutput{Text: r.Choices[0].Message.Content, Model: r.Model, In: r.Usage.PromptTokens,
			Out: r.Usage.CompletionTokens, Raw: []string{r.RawJSON()}}, nil
	}},
	{"openai-go/chat-stream", "openai", "openai_chat", true, false, func(ctx context.Context, url string, hc *http.Client) (sdkOutput, error) {
		c := openaiGoClient(url, hc)
		s := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: sdkModel,
			Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
		defer s.Close()
		var o sdkOutput
		var acc openai.ChatCompletionAccumulator
		for s.Next() {
			ch := s.Current()
			acc.AddChunk(ch)
			o.Raw = append(o.Raw, ch.RawJSON())
		}
		if err := s.Err(); err != nil {
			return o, err
		}
		o.Text, o.Model, o.In, o.Out = acc.Choices[0].Message.Content, acc.Model, acc.Usage.PromptTokens, acc.Usage.CompletionTokens
		return o, nil
	}},
	{"openai-go/responses", "openai", "openai_responses", false, false, func(ctx context.Context, url string, hc *http.Client) (sdkOutput, error) {
		c := openaiGoClient(url, hc)
		r, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: sdkModel,
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
		if err != nil {
			return sdkOutput{}, err
		}
		return sdkOutput{Text: r.OutputText(), Model: r.Model, In: r.Usage.InputTokens, Out: r.Usage.OutputTokens,
			Raw: []string{r.RawJSON()}}, nil
	}},
	{"openai-go/responses-stream", "openai", "openai_responses", true, false, func(ctx context.Context, url string, hc *http.Client) (sdkOutput, error) {
		c := openaiGoClient(url, hc)
		s := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: sdkModel,
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
		defer s.Close()
		var o sdkOutput
		for s.Next() {
			ev := s.Current()
			o.Raw = append(o.Raw, ev.RawJSON())
			switch ev.Type {
			case "response.output_text.delta":
				o.Text += ev.Delta
			case "response.completed":
				o.Model, o.In, o.Out = ev.Response.Model, ev.Response.Usage.InputTokens, ev.Response.Usage.OutputTokens
			}
		}
		return o, s.Err()
	}},
	{"anthropic-sdk-go/messages", "anthropic", "anthropic", false, false, func(ctx context.Context, url string, hc *http.Client) (sdkOutput, error) {
		c := anthropicClient(url, hc)
		m, err := c.Messages.New(ctx, anthropic.MessageNewParams{Model: sdkModel, MaxTokens: 64,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
		if err != nil {
			return sdkOutput{}, err
		}
		return sdkOutput{Text: m.Content[0].Text, Model: m.Model, In: m.Usage.InputTokens, Out: m.Usage.OutputTokens,
			Raw: []string{m.RawJSON()}}, nil
	}},
	{"anthropic-sdk-go/messages-stream", "anthropic", "anthropic", true, false, func(ctx context.Context, url string, hc *http.Client) (sdkOutput, error) {
		c := anthropicClient(url, hc)
		s := c.Messages.NewStreaming(ctx, anthropic.MessageNewParams{Model: sdkModel, MaxTokens: 64,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
		defer s.Close()
		var o sdkOutput
		var m anthropic.Message
		for s.Next() {
			ev := s.Current()
			o.Raw = append(o.Raw, ev.RawJSON())
			if err := m.Accumulate(ev); err != nil {
				return o, err
			}
		}
		if err := s.Err(); err != nil {
			return o, err
		}
		o.Text, o.Model, o.In, o.Out = m.Content[0].Text, m.Model, m.Usage.InputTokens, m.Usage.OutputTokens
		return o, nil
	}},
	{"go-openai/chat", "openai", "openai_chat", false, false, func(ctx context.Context, url string, hc *http.Client) (sdkOutput, error) {
		cfg := goopenai.DefaultConfig("k")
		cfg.BaseURL, cfg.HTTPClient = url+"/v1", hc
		r, err := goopenai.NewClientWithConfig(cfg).CreateChatCompletion(ctx, goopenai.ChatCompletionRequest{Model: sdkModel,
			Messages: []goopenai.ChatCompletionMessage{{Role: "user", Content: "hi"}}})
		if err != nil {
			return sdkOutput{}, err
		}
		return sdkOutput{Text: r.Choices[0].Message.Content, Model: r.Model, In: int64(r.Usage.PromptTokens),
			Out: int64(r.Usage.CompletionTokens), Raw: []string{rawJSON(r)}}, nil
	}},
	{"go-openai/chat-stream", "openai", "openai_chat", true, false, func(ctx context.Context, url string, hc *http.Client) (sdkOutput, error) {
		cfg := goopenai.DefaultConfig("k")
		cfg.BaseURL, cfg.HTTPClient = url+"/v1", hc
		s, err := goopenai.NewClientWithConfig(cfg).CreateChatCompletionStream(ctx, goopenai.ChatCompletionRequest{Model: sdkModel,
			Messages:      []goopenai.ChatCompletionMessage{{Role: "user", Content: "hi"}},
			Stream:        true,
			StreamOptions: &goopenai.StreamOptions{IncludeUsage: true}})
		if err != nil {
			return sdkOutput{}, err
		}
		defer s.Close()
		var o sdkOutput
		for {
			r, err := s.Recv()
			if errors.Is(err, io.EOF) {
				return o, nil
			}
			if err != nil {
				return o, err
			}
			o.Raw = append(o.Raw, rawJSON(r))
			o.Model = r.Model
			if len(r.Choices) > 0 {
				o.Text += r.Choices[0].Delta.Content
			}
			if r.Usage != nil {
				o.In, o.Out = int64(r.Usage.PromptTokens), int64(r.Usage.CompletionTokens)
			}
		}
	}},
	{"langchaingo/openai", "openai", "openai_chat", false, false, langchain(func(url string, hc *http.Client) (llms.Model, error) {
		return lcopenai.New(lcopenai.WithBaseURL(url+"/v1"), lcopenai.WithToken("k"), lcopenai.WithModel(sdkModel), lcopenai.WithHTTPClient(hc))
	}, false)},
	{"langchaingo/openai-stream", "openai", "openai_chat", true, false, langchain(func(url string, hc *http.Client) (llms.Model, error) {
		return lcopenai.New(lcopenai.WithBaseURL(url+"/v1"), lcopenai.WithToken("k"), lcopenai.WithModel(sdkModel), lcopenai.WithHTTPClient(hc))
	}, true)},
	{"langchaingo/anthropic", "anthropic", "anthropic", false, false, langchain(func(url string, hc *http.Client) (llms.Model, error) {
		return lcanthropic.New(lcanthropic.WithBaseURL(url+"/v1"), lcanthropic.WithToken("k"), lcanthropic.WithModel(sdkModel), lcanthropic.WithHTTPClient(hc))
	}, false)},
	{"langchaingo/anthropic-stream", "anthropic", "anthropic", true, false, langchain(func(url string, hc *http.Client) (llms.Model, error) {
		return lcanthropic.New(lcanthropic.WithBaseURL(url+"/v1"), lcanthropic.WithToken("k"), lcanthropic.WithModel(sdkModel), lcanthropic.WithHTTPClient(hc))
	}, true)},
	// langchaingo leaves "stream" out when no streaming function is given,
	// and Ollama then streams: the wire shows a stream either way.
	{"langchaingo/ollama", "ollama", "ollama", true, false, langchain(func(url string, hc *http.Client) (llms.Model, error) {
		return lcollama.New(lcollama.WithServerURL(url), lcollama.WithModel(sdkModel), lcollama.WithHTTPClient(hc))
	}, false)},
	{"langchaingo/ollama-stream", "ollama", "ollama", true, false, langchain(func(url string, hc *http.Client) (llms.Model, error) {
		return lcollama.New(lcollama.WithServerURL(url), lcollama.WithModel(sdkModel), lcollama.WithHTTPClient(hc))
	}, true)},
	{"go-openai/ollama-v1-stream", "openai", "openai_chat", true, true, func(ctx context.Context, url string, hc *http.Client) (sdkOutput, error) {
		// Ollama's OpenAI-compatible /v1 is the OpenAI wire format; on a
		// host that is not port 11434 it is reported as an OpenAI-compatible
		// gateway (see TestClassifyRequest for the port rule).
		cfg := goopenai.DefaultConfig("ollama")
		cfg.BaseURL, cfg.HTTPClient = url+"/v1", hc
		s, err := goopenai.NewClientWithConfig(cfg).CreateChatCompletionStream(ctx, goopenai.ChatCompletionRequest{Model: sdkModel,
			Messages: []goopenai.ChatCompletionMessage{{Role: "user", Content: "hi"}}, Stream: true})
		if err != nil {
			return sdkOutput{}, err
		}
		defer s.Close()
		var o sdkOutput
		for {
			r, err := s.Recv()
			if errors.Is(err, io.EOF) {
				return o, nil
			}
			if err != nil {
				return o, err
			}
			o.Raw = append(o.Raw, rawJSON(r))
			if len(r.Choices) > 0 {
				o.Text += r.Choices[0].Delta.Content
			}
		}
	}},
}

// langchain drives a langchaingo model, streaming or not.
func langchain(mk func(url string, hc *http.Client) (llms.Model, error), stream bool) func(context.Context, string, *http.Client) (sdkOutput, error) {
	return func(ctx context.Context, url string, hc *http.Client) (sdkOutput, error) {
		m, err := mk(url, hc)
		if err != nil {
			return sdkOutput{}, err
		}
		var o sdkOutput
		opts := []llms.CallOption{llms.WithMaxTokens(64)}
		if stream {
			opts = append(opts, llms.WithStreamingFunc(func(_ context.Context, chunk []byte) error {
				o.Raw = append(o.Raw, string(chunk))
				return nil
			}))
		}
		r, err := m.GenerateContent(ctx, []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "hi")}, opts...)
		if err != nil {
			return o, err
		}
		o.Text = r.Choices[0].Content
		info, _ := json.Marshal(r.Choices[0].GenerationInfo)
		o.Raw = append(o.Raw, string(info), r.Choices[0].StopReason)
		return o, nil
	}
}

// TestSDKCompatibility drives the four real SDKs, streaming and not, against
// local servers speaking their providers' wire formats with controlled
// pacing, with and without the transport: the SDKs' parsed output must be
// identical, and the client span and metrics must show the pacing, usage,
// model and provider.
func TestSDKCompatibility(t *testing.T) {
	const (
		prefill = 100 * time.Millisecond
		gap     = 10 * time.Millisecond
		chunks  = 10
	)
	for _, tc := range sdkCases {
		t.Run(tc.name, func(t *testing.T) {
			srv := providertest.NewServer(providertest.Always(providertest.Response{
				Prefill: prefill, Gap: gap, Chunks: chunks, InputTokens: 21, OutputTokens: chunks, NoUsage: tc.noUsage}))
			defer srv.Close()
			ctx := context.Background()
			bare, err := tc.call(ctx, srv.URL, &http.Client{})
			if err != nil {
				t.Fatalf("without transport: %v", err)
			}
			// Timing is checked against the truths of wireTruth and the
			// call's own start and return: intervals no load can break.
			h := newHarness(t)
			base := http.DefaultTransport.(*http.Transport).Clone() // a new connection
			var wire wireTruth
			callStart := time.Now()
			got, err := tc.call(ctx, srv.URL, &http.Client{Transport: h.t.Transport(wire.wrap(base))})
			callEnd := time.Now()
			base.CloseIdleConnections()
			if err != nil {
				t.Fatalf("with transport: %v", err)
			}
			served, err := srv.WaitServed(2, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			sv := served[1]
			span := h.lastClientSpan(t)
			sep := "" // a non-streamed body: E2E only
			if tc.stream {
				sep = "\n\n" // an SSE event's end
				if tc.dialect == "ollama" {
					sep = "\n" // an NDJSON line's end
				}
			}
			errs, note := callTiming(span, &wire, callStart, callEnd, chunks, sep)
			for _, e := range errs {
				t.Error(e)
			}
			t.Logf("%s (server paced a first chunk at %v, then %v apart)", note, prefill, gap)
			if diff := cmp.Diff(bare, got); diff != "" {
				t.Errorf("SDK output differs with the transport (-without +with):\n%s", diff)
			}
			if !strings.HasPrefix(got.Text, "tok0 tok1") {
				t.Errorf("SDK text = %q", got.Text)
			}
			if sv.Request.Stream != tc.stream {
				t.Fatalf("server saw stream=%v, case says %v", sv.Request.Stream, tc.stream)
			}
			if len(h.clientSpans()) != 1 {
				t.Errorf("%d client spans, want 1", len(h.clientSpans()))
			}
			format := "json"
			if tc.stream {
				format = "sse"
				if tc.dialect == "ollama" {
					format = "ndjson"
				}
			}
			want := map[attribute.Key]any{
				semconv.GenAIOperationName:     "chat",
				semconv.GenAIProviderName:      tc.provider,
				semconv.GenAIRequestModel:      sdkModel,
				semconv.GenAIResponseModel:     sdkModel,
				semconv.ServerAddress:          "127.0.0.1",
				semconv.HTTPResponseStatusCode: int64(200),
				semconv.SLOStreamDialect:       tc.dialect,
				semconv.SLOStreamFormat:        format,
				semconv.SLONetConnReused:       false,
			}
			if !tc.noUsage {
				want[semconv.GenAIUsageInputTokens] = int64(21)
				want[semconv.GenAIUsageOutputTokens] = int64(chunks)
			}
			wantAttrs(t, span, want)
			noAttrs(t, span, semconv.ErrorType, semconv.SLOCancelled)
			if tc.noUsage {
				noAttrs(t, span, semconv.GenAIUsageInputTokens, semconv.GenAIUsageOutputTokens)
			}
			a := attrMap(span)
			if ttfb := a[semconv.SLOProviderTTFBMs].AsFloat64(); ttfb <= 0 {
				t.Errorf("provider ttfb = %v", ttfb)
			}
			if tc.stream {
				if a[semconv.SLOTokensEstimated].AsBool() != tc.noUsage {
					t.Errorf("tokens estimated = %v", a[semconv.SLOTokensEstimated].AsBool())
				}
				if p := h.histPoints(t, "gen_ai.client.operation.time_per_output_chunk"); len(p) != 1 || p[0].Count != chunks-1 {
					t.Errorf("time_per_output_chunk points = %+v, want one with count %d", p, chunks-1)
				}
				ttfc := h.histPoints(t, "gen_ai.client.operation.time_to_first_chunk")
				if len(ttfc) != 1 || cmp.Diff(bucketsTTFT, ttfc[0].Bounds) != "" {
					t.Errorf("time_to_first_chunk = %+v", ttfc)
				} else {
					within(t, "ttfc sum (ms)", ttfc[0].Sum*1000, a[semconv.SLOTTFTMs].AsFloat64(), 0.001)
				}
			} else {
				noAttrs(t, span, semconv.SLOTTFTMs, semconv.SLOTPOTMs)
			}
			dur := h.histPoints(t, "gen_ai.client.operation.duration")
			if len(dur) != 1 || cmp.Diff(bucketsDuration, dur[0].Bounds) != "" {
				t.Fatalf("operation.duration = %+v", dur)
			}
			if v, _ := dur[0].Attributes.Value(semconv.GenAIProviderName); v.AsString() != tc.provider {
				t.Errorf("duration provider = %q", v.AsString())
			}
			if !tc.noUsage {
				m := h.metrics(t)
				tok, ok := m["gen_ai.client.token.usage"].(metricdata.Histogram[int64])
				if !ok || len(tok.DataPoints) != 2 {
					t.Fatalf("token usage = %#v", m["gen_ai.client.token.usage"])
				}
				sums := map[string]int64{}
				for _, dp := range tok.DataPoints {
					v, _ := dp.Attributes.Value(semconv.GenAITokenType)
					sums[v.AsString()] = dp.Sum
				}
				if diff := cmp.Diff(map[string]int64{"input": 21, "output": chunks}, sums); diff != "" {
					t.Errorf("token usage (-want +got):\n%s", diff)
				}
			}
		})
	}
}
