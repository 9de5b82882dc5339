package providertest_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/llmslo/slo/internal/providertest"
)

// A provider that is throttled once, then streams three chunks 10 ms apart
// after 50 ms of prefill.
func Example() {
	srv := providertest.NewServer(providertest.Sequence(
		providertest.Response{Status: http.StatusTooManyRequests, RetryAfter: "1"},
		providertest.Response{Chunks: 3, Prefill: 50 * time.Millisecond, Gap: 10 * time.Millisecond},
	))
	defer srv.Close()
	for range 2 {
		resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"gpt-4o","stream":true}`))
		if err != nil {
			panic(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	served, _ := srv.WaitServed(2, time.Second)
	tr := served[1].Truth
	fmt.Println(served[1].Request.Model, tr.OutputChunks, tr.FirstOutput.Sub(tr.Headers) >= 50*time.Millisecond)
	// Output:
	// 429 application/json
	// 200 text/event-stream
	// gpt-4o 3 true
}
