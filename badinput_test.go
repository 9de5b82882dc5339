package slo

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/llmslo/slo/semconv"
)

// TestBadStreams: malformed, truncated, gigantic and binary streams through
// Instrument neither panic nor grow memory with the input, and never invent
// output tokens where the dialect says there are none.
func TestBadStreams(t *testing.T) {
	huge := "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{\"role\":\"assistant\",\"x\":\"" +
		strings.Repeat("a", 8<<20) + "\"}}]}\n\n"
	for _, tc := range []struct {
		name       string
		ct         string
		body       string
		wantTokens int64 // -1: no output-token attribute at all
	}{
		{"8 MiB single event without output", "text/event-stream", huge + "data: [DONE]\n\n", -1},
		// Unknown dialect: the one (unterminated) event is one chunk, an estimate.
		{"8 MiB line never terminated", "text/event-stream", "data: " + strings.Repeat("z", 8<<20), 1},
		{"truncated mid-event", "text/event-stream",
			"data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"object\":\"chat.compl", 1},
		{"malformed json in openai stream", "text/event-stream",
			"data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {{{{\n\ndata: ]]]\n\n", 1},
		{"binary garbage as json", "application/json", "\x00\x01\xff{\"usage\":", -1},
		{"empty sse", "text/event-stream", ":\n\n: keepalive\n\n", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			body := []byte(tc.body)
			handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ct)
				for b := body; len(b) > 0; {
					n := min(len(b), 64<<10)
					w.Write(b[:n])
					b = b[n:]
				}
			})
			// Peak heap of one request through handler, measured with a writer
			// that keeps nothing; instrumented minus bare is what we kept.
			peak := func(hd http.Handler) uint64 {
				var m runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m)
				before := m.TotalAlloc
				hd.ServeHTTP(&discardWriter{h: http.Header{}}, httptest.NewRequest("POST", "/", nil))
				runtime.ReadMemStats(&m)
				return m.TotalAlloc - before
			}
			bare, inst := peak(handler), peak(h.t.Instrument(handler))
			if extra := int64(inst) - int64(bare); extra > 4<<20 {
				t.Errorf("instrumented request allocated %d bytes more than bare (%d); want < 4 MiB (bounded buffers) for a %d-byte body", extra, bare, len(body))
			}
			rec := httptest.NewRecorder()
			h.t.Instrument(handler).ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
			if !bytes.Equal(rec.Body.Bytes(), body) {
				t.Fatal("body altered")
			}
			a := h.lastSpanAttrs(t)
			got, ok := a[semconv.GenAIUsageOutputTokens]
			switch {
			case tc.wantTokens < 0 && ok:
				t.Errorf("invented %d output tokens", got.AsInt64())
			case tc.wantTokens >= 0 && got.AsInt64() != tc.wantTokens:
				t.Errorf("output tokens = %d, want %d", got.AsInt64(), tc.wantTokens)
			}
		})
	}
}

func TestHandlerWritesAfterReturnIgnored(t *testing.T) {
	h := newHarness(t)
	var saved http.ResponseWriter
	hd := h.t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		saved = w
		io.WriteString(w, "x")
	}))
	hd.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	// A misbehaving handler keeps the writer; later use must not panic.
	io.WriteString(saved, "late")
	RequestFrom(nil).Model("x")
}
