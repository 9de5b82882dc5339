package slo_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"sort"
	"strings"

	"github.com/llmslo/slo"
	"github.com/llmslo/slo/internal/providertest"
	openai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// The latest GenAI conventions, asked for with an option (the same as
// OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental): a call's
// prompt-cache and reasoning tokens are counted beside its input and
// output.
func ExampleWithSemconv() {
	provider := providertest.NewServer(providertest.Always(providertest.Response{
		Chunks: 3, InputTokens: 1200, CacheReadTokens: 1024, OutputTokens: 40, ReasoningTokens: 32}))
	defer provider.Close()

	reader := sdkmetric.NewManualReader()
	t, err := slo.New(slo.WithoutProbes(), slo.WithSemconv(slo.SemconvLatest),
		slo.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	client := openai.NewClient(option.WithBaseURL(provider.URL+"/v1/"), option.WithAPIKey("key"),
		option.WithHTTPClient(&http.Client{Transport: t.Transport(nil)}))
	if _, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say three words.")},
	}); err != nil {
		log.Fatal(err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	var lines []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok && strings.HasPrefix(m.Name, "gen_ai.client.") {
				lines = append(lines, fmt.Sprintf("%s %d", m.Name, s.DataPoints[0].Value))
			}
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// gen_ai.client.inference.usage.cache_read.input_tokens 1024
	// gen_ai.client.inference.usage.input_tokens 1200
	// gen_ai.client.inference.usage.output_tokens 40
	// gen_ai.client.inference.usage.reasoning.output_tokens 32
}
