//go:build !race

package slo

import (
	"net/http"
	"strings"
	"testing"
)

// TestTransportChunkAllocs checks that a streamed chunk read through the
// transport's response body allocates nothing, in every GenAI conventions
// mode (the per-chunk histogram of each included).
func TestTransportChunkAllocs(t *testing.T) {
	ev := []byte(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"tok "},"finish_reason":null}]}` + "\n\n")
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
			Body: &chunkBody{ev: ev}, ContentLength: -1, Request: r}, nil
	})
	for _, m := range semconvModes {
		t.Run(m.name, func(t *testing.T) {
			h := newHarness(t, WithSemconv(m.sc), WithoutProbes())
			req, _ := http.NewRequest("POST", "http://127.0.0.1:1/v1/chat/completions", strings.NewReader(`{"model":"m","stream":true}`))
			resp, err := h.t.Transport(base).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			buf := make([]byte, 4096)
			for range 3 { // the first gap resolves the call's attribute sets
				resp.Body.Read(buf)
			}
			allocs := testing.AllocsPerRun(200, func() { resp.Body.Read(buf) })
			if allocs != 0 {
				t.Errorf("%v allocs per chunk, want 0", allocs)
			}
			// 3 + 201 chunks (AllocsPerRun runs the function once more to
			// warm up): 203 gaps, in each per-chunk histogram of the mode.
			for bit, name := range map[Semconv]string{SemconvV141: "gen_ai.client.operation.time_per_output_chunk",
				SemconvLatest: "gen_ai.client.inference.time_per_output_chunk"} {
				if m.sc&bit == 0 {
					continue
				}
				if p := h.histPoints(t, name); len(p) != 1 || p[0].Count != 203 {
					t.Errorf("%s: %+v, want 203 values", name, p)
				}
			}
		})
	}
}
