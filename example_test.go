package slo_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/llmslo/slo"
)

func ExampleNew() {
	t, err := slo.New(
		slo.WithService("chat-gateway"),
		slo.WithObjectives(
			slo.TTFT(500*time.Millisecond, 0.99),
			slo.TPOT(50*time.Millisecond, 0.99),
			slo.ErrorRate(0.999),
		),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	for _, b := range t.Budget() {
		fmt.Println(b.Objective, b.Target)
	}
	// Output:
	// ttft_500ms_p99 0.99
	// tpot_50ms_p99 0.99
	// error_rate_p99.9 0.999
}

func ExampleTracker_Instrument() {
	t, err := slo.New(slo.WithObjectives(slo.TTFT(500*time.Millisecond, 0.99)))
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	chat := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"Hello\"}}]}\n\n")
		w.(http.Flusher).Flush()
		io.WriteString(w, "data: [DONE]\n\n")
	})
	http.Handle("POST /v1/chat/completions", t.Instrument(chat))
}

func ExampleRequestFrom() {
	handler := func(w http.ResponseWriter, r *http.Request) {
		rq := slo.RequestFrom(r.Context()) // nil outside Instrument; still safe to use
		rq.Model("llama-3.1-8b")
		rq.Provider("vllm")
		// ... generate, then report what the stream does not carry:
		rq.Usage(812, 64)
	}
	_ = handler
}

func ExampleTTFT() {
	ttft := slo.TTFT(300*time.Millisecond, 0.95).ForRoute("POST /v1/chat/completions").ForModel("small")
	fmt.Println(ttft.Name())
	fmt.Println(slo.TokensPerSecond(20, 0.9).Name())
	fmt.Println(slo.Latency(10*time.Second, 0.99).Named("chat-e2e").Name())
	// Output:
	// ttft_300ms_p95
	// tokens_per_sec_20_p90
	// chat-e2e
}
