package stream

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/llmslo/slo/internal/testutil"
)

// chunk is one representative output chunk per dialect, as a provider
// writes it (one event per Write).
var benchChunks = []struct {
	name, ct string
	hint     Dialect
	prime    string // detects the dialect before timing
	chunk    string
}{
	{"openai_chat", "text/event-stream", DialectUnknown,
		`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n",
		`data: {"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_eb9dce56a8","choices":[{"index":0,"delta":{"content":" today"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n"},
	{"openai_responses", "text/event-stream", DialectUnknown,
		"event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"model\":\"gpt-4.1\",\"usage\":null}}\n\n",
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":10,\"item_id\":\"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654\",\"output_index\":1,\"content_index\":0,\"delta\":\" there\",\"logprobs\":[]}\n\n"},
	{"anthropic", "text/event-stream", DialectUnknown,
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" today\"}}\n\n"},
	{"ollama_chat", "application/x-ndjson", DialectUnknown,
		`{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00","message":{"role":"assistant","content":"The"},"done":false}` + "\n",
		`{"model":"llama3.2","created_at":"2023-08-04T08:52:19.485406455-07:00","message":{"role":"assistant","content":" sky"},"done":false}` + "\n"},
	{"ollama_generate", "application/x-ndjson", DialectUnknown,
		`{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00","response":"The","done":false}` + "\n",
		`{"model":"llama3.2","created_at":"2023-08-04T08:52:19.485406455-07:00","response":" sky","done":false}` + "\n"},
	{"unknown_sse", "text/event-stream", DialectUnknown, "data: hello\n\n", "data: world\n\n"},
	{"text", "text/plain", DialectUnknown, "Hello", " world"},
}

// benchVariants returns versions of a benchmark chunk as a stream carries
// them: the output text changes (a token of 1 to 8 bytes) and so do the
// per-chunk fields (Responses' sequence_number, Ollama's created_at), so
// that consecutive chunks share only the prefixes real ones share.
func benchVariants(chunk string) []string {
	toks := []string{" today", " is", " a", " sunny", " day,", " isn't", " it", "?"}
	var out []string
	for n, tok := range toks {
		c := chunk
		for _, old := range []string{`" today"`, `" there"`, `" sky"`, `world`} {
			if strings.Contains(c, old) {
				repl := `"` + tok + `"`
				if old == `world` {
					repl = tok
				}
				c = strings.Replace(c, old, repl, 1)
			}
		}
		c = strings.Replace(c, `"sequence_number":10`, fmt.Sprintf(`"sequence_number":%d`, 10+n), 1)
		c = strings.Replace(c, `19.485406455`, fmt.Sprintf(`19.%09d`, 485406455+n*7919), 1)
		out = append(out, c)
	}
	return out
}

// BenchmarkChunk measures the cost of observing one chunk per dialect, the
// chunk arriving in one Write (in place) or cut in two (copied). The chunks
// written in turn differ as a real stream's do (benchVariants).
func BenchmarkChunk(b *testing.B) {
	for _, bc := range benchChunks {
		for _, split := range []bool{false, true} {
			name := bc.name
			if split {
				name += "/split"
			}
			b.Run(name, func(b *testing.B) {
				outputs := 0
				o := NewObserver(bc.ct, bc.hint, func(ev *Event) {
					if ev.Output {
						outputs++
					}
				}, Config{})
				o.Write([]byte(bc.prime))
				var chunks [][]byte
				size := 0
				for _, c := range benchVariants(bc.chunk) {
					chunks = append(chunks, []byte(c))
					size += len(c)
					o.Write([]byte(c)) // warm the buffers
				}
				b.SetBytes(int64(size / len(chunks)))
				b.ReportAllocs()
				b.ResetTimer()
				cpu := testutil.StartCPU(b)
				n := 0
				for b.Loop() {
					chunk := chunks[n%len(chunks)]
					n++
					if split {
						half := len(chunk) / 2
						o.Write(chunk[:half])
						o.Write(chunk[half:])
					} else {
						o.Write(chunk)
					}
				}
				cpu.Stop()
				b.StopTimer()
				if outputs == 0 {
					b.Fatal("no output observed")
				}
			})
		}
	}
}

// BenchmarkThroughput observes whole captured streams, written in 4 KiB
// pieces as an HTTP server would, and reports MB/s.
func BenchmarkThroughput(b *testing.B) {
	for _, g := range goldens() {
		body := readTestdata(b, g.file)
		b.Run(g.file, func(b *testing.B) {
			o := NewObserver(g.ct, DialectUnknown, func(*Event) {}, Config{})
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				o.Reset(g.ct, DialectUnknown, func(*Event) {})
				for p := body; len(p) > 0; {
					n := min(len(p), 4096)
					o.Write(p[:n])
					p = p[n:]
				}
				o.Close()
			}
		})
	}
	// A long chat stream: many small chunks.
	var long bytes.Buffer
	for range 2000 {
		long.WriteString(benchChunks[0].chunk)
	}
	body := long.Bytes()
	b.Run("openai_chat_2000_chunks", func(b *testing.B) {
		o := NewObserver("text/event-stream", DialectUnknown, nil, Config{})
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			o.Reset("text/event-stream", DialectUnknown, nil)
			for p := body; len(p) > 0; {
				n := min(len(p), 4096)
				o.Write(p[:n])
				p = p[n:]
			}
			o.Close()
		}
	})
}
