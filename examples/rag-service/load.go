package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// questions are what the load generator asks; most match a corpus note.
var questions = []string{
	"What is time to first token?",
	"How is TPOT computed?",
	"What does a burn rate of 30 mean?",
	"When should an SLO page someone?",
	"Why does retrieval raise TTFT?",
	"What happens when the provider throttles requests?",
	"How do I measure inter-token latency?",
	"What is an error budget?",
	"Why is end-to-end latency a poor objective for streaming?",
	"How does CPU throttling affect streaming?",
	"What is prefill?",
	"Which eBPF signals explain a slow request?",
	"How do retries turn errors into latency?",
	"What are the OpenTelemetry GenAI metrics?",
	"How do vector stores find documents?",
	"What does packet loss do to token streams?",
	"When is a ticket opened instead of a page?",
	"How should a proxy relay server-sent events?",
	"What does memory pressure do to a gateway?",
	"How are fault domains ranked?",
}

// loadStats counts what the load generator did.
type loadStats struct {
	rate                       atomic.Uint64 // requests/s × 1000
	sent, ok, failed, inflight atomic.Int64
	dropped                    atomic.Int64 // not sent: too many in flight
}

// loadSnapshot is loadStats for the status.
type loadSnapshot struct {
	Rate     float64 `json:"rate_per_second"`
	Sent     int64   `json:"sent"`
	OK       int64   `json:"ok"`
	Failed   int64   `json:"failed"`
	InFlight int64   `json:"in_flight"`
	Dropped  int64   `json:"dropped"`
}

func (s *loadStats) snapshot() loadSnapshot {
	return loadSnapshot{Rate: float64(s.rate.Load()) / 1000, Sent: s.sent.Load(), OK: s.ok.Load(),
		Failed: s.failed.Load(), InFlight: s.inflight.Load(), Dropped: s.dropped.Load()}
}

// maxInFlight bounds the load generator's concurrent requests.
const maxInFlight = 64

// newLoadClient returns an openai-go client for the service at base, without
// SDK retries (so that a fault shows as it is).
func newLoadClient(base string) openai.Client {
	return openai.NewClient(
		option.WithBaseURL(base+"/v1/"),
		option.WithAPIKey("rag-service-local"),
		option.WithMaxRetries(0),
		option.WithHTTPClient(&http.Client{Timeout: 60 * time.Second}),
	)
}

// askStream streams one chat completion through openai-go and reports the
// number of content chunks received.
func askStream(ctx context.Context, c openai.Client, q string) (chunks int, err error) {
	stream := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:         "fake-1",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage(q)},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	defer stream.Close()
	for stream.Next() {
		if ch := stream.Current(); len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
			chunks++
		}
	}
	return chunks, stream.Err()
}

// drive sends rate requests per second to the service at base until ctx ends:
// mostly streaming chat completions through openai-go, one in ten not
// streamed.
func (a *app) drive(ctx context.Context, rate float64, log *slog.Logger) {
	if rate <= 0 {
		return
	}
	a.load.rate.Store(uint64(rate * 1000))
	c := newLoadClient(a.URL())
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	var lastLog time.Time
	var logMu sync.Mutex
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if a.load.inflight.Load() >= maxInFlight {
			a.load.dropped.Add(1)
			continue
		}
		a.load.sent.Add(1)
		a.load.inflight.Add(1)
		wg.Add(1)
		go func(q string, stream bool) {
			defer wg.Done()
			defer a.load.inflight.Add(-1)
			var err error
			if stream {
				_, err = askStream(ctx, c, q)
			} else {
				_, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
					Model:    "fake-1",
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(q)},
				})
			}
			if err == nil {
				a.load.ok.Add(1)
				return
			}
			if ctx.Err() != nil {
				return
			}
			a.load.failed.Add(1)
			logMu.Lock()
			defer logMu.Unlock()
			if time.Since(lastLog) > 10*time.Second { // at most one line per 10 s
				lastLog = time.Now()
				log.Warn("load request failed (further failures for 10 s not logged)", "err", err)
			}
		}(questions[i%len(questions)], i%10 != 9)
	}
}
