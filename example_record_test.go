package slo_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/llmslo/slo"
)

func ExampleWithRequestRecords() {
	records := make(chan slo.RequestRecord, 1)
	t, err := slo.New(
		slo.WithoutProbes(),
		slo.WithObjectives(slo.TTFT(500*time.Millisecond, 0.99)),
		slo.WithRequestRecords(func(_ context.Context, r slo.RequestRecord) { records <- r }),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	h := t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, tok := range []string{"Hel", "lo", "!"} {
			io.WriteString(w, `data: {"choices":[{"delta":{"content":"`+tok+`"}}]}`+"\n\n")
			w.(http.Flusher).Flush()
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil))
	r := <-records
	fmt.Println(r.Status, r.OutputTokens, r.TokensEstimated, r.TTFT > 0, r.Objectives, r.Breached)
	// Output:
	// 200 3 true true [ttft_500ms_p99] []
}
