package slo

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// splitBody yields body in pieces whose sizes come from splits (cycled; 0
// means 1 byte), and optionally fails with err at the end instead of EOF.
type splitBody struct {
	body   []byte
	splits []byte
	i      int
	err    error
}

func (s *splitBody) Read(p []byte) (int, error) {
	if len(s.body) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		return 0, io.EOF
	}
	n := 1
	if len(s.splits) > 0 {
		n = max(int(s.splits[s.i%len(s.splits)]), 1)
		s.i++
	}
	n = min(n, len(p), len(s.body))
	copy(p, s.body[:n])
	s.body = s.body[n:]
	return n, nil
}

func (s *splitBody) Close() error { return nil }

var fuzzPaths = []string{"/v1/chat/completions", "/v1/responses", "/v1/messages", "/api/chat", "/search"}
var fuzzTypes = []string{"text/event-stream", "application/x-ndjson", "application/json", "", "text/plain"}

// FuzzTransportBody checks, for random bodies, framings and read splits,
// that what the caller reads through the transport is exactly what the
// base transport returned, that nothing panics, and that the call is
// recorded exactly once whether the body is read to its end, fails or is
// closed early.
func FuzzTransportBody(f *testing.F) {
	seeds := []string{
		"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"model\":\"m\"}\n\ndata: [DONE]\n\n",
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"c\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
		"{\"model\":\"l\",\"message\":{\"content\":\"a\"},\"done\":false}\n{\"model\":\"l\",\"done\":true,\"eval_count\":1,\"prompt_eval_count\":2}\n",
		"{\"id\":\"c\",\"choices\":[{\"message\":{\"content\":\"hi\"}}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}",
		"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}}\n\n",
		"\xef\xbb\xbfdata: x\r\n\r\n",
		"",
		"\x00\xff{{{{[[[\"",
	}
	for i, s := range seeds {
		f.Add([]byte(s), []byte{byte(i + 1), 3, 200}, uint8(i), uint8(i), uint16(0))
	}
	rec := &countingProcessor{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr, err := New(WithTracerProvider(tp), WithPropagators(propagation.TraceContext{}), WithoutProbes())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = tr.Close() })
	f.Fuzz(func(t *testing.T, body, splits []byte, path, ctype uint8, stopAt uint16) {
		var failWith error
		if stopAt%7 == 3 {
			failWith = io.ErrUnexpectedEOF
		}
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			h := http.Header{}
			if ct := fuzzTypes[int(ctype)%len(fuzzTypes)]; ct != "" {
				h.Set("Content-Type", ct)
			}
			return &http.Response{StatusCode: 200, Header: h, ContentLength: -1, Request: r,
				Body: &splitBody{body: bytes.Clone(body), splits: splits, err: failWith}}, nil
		})
		opts := []TransportOption{}
		p := fuzzPaths[int(path)%len(fuzzPaths)]
		if p == "/search" {
			opts = append(opts, Retrieval())
		}
		rt := tr.Transport(base, opts...)
		before := rec.ended.Load()
		req, _ := http.NewRequest("POST", "http://127.0.0.1:1"+p, strings.NewReader(`{"model":"m","stream":true}`))
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		limit := len(body) + 1
		if stopAt%5 == 1 {
			limit = int(stopAt) % (len(body) + 1) // the caller stops early
		}
		buf := make([]byte, 1+int(stopAt)%512)
		var readErr error
		for len(got) < limit {
			n, err := resp.Body.Read(buf[:min(len(buf), limit-len(got))])
			got = append(got, buf[:n]...)
			if err != nil {
				readErr = err
				break
			}
		}
		resp.Body.Close()
		resp.Body.Close()
		if limit > len(body) {
			if !bytes.Equal(got, body) {
				t.Fatalf("caller read %q, want %q", got, body)
			}
			if failWith != nil && readErr != failWith || failWith == nil && readErr != io.EOF {
				t.Fatalf("read error %v, want %v", readErr, failWith)
			}
		} else if !bytes.Equal(got, body[:len(got)]) {
			t.Fatalf("caller read %q, not a prefix of %q", got, body)
		}
		if n := rec.ended.Load() - before; n != 1 {
			t.Fatalf("%d spans ended for one call", n)
		}
	})
}

// countingProcessor counts ended spans.
type countingProcessor struct {
	noopProcessor
	ended atomic.Int64
}

func (c *countingProcessor) OnEnd(sdktrace.ReadOnlySpan) { c.ended.Add(1) }
