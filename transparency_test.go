package slo

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// splitWrites replays body as a handler would, cutting it at the positions
// given by cuts (each byte of cuts is one chunk length, 0 meaning a Flush).
func splitWrites(contentType string, body, cuts []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		rest := body
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if len(cuts) > 0 && i < 4*len(body)+len(cuts) { // bounded: then the rest in one write
				c := int(cuts[i%len(cuts)])
				if c == 0 {
					w.(http.Flusher).Flush()
					continue
				}
				n = min(n, c)
			}
			if i%3 == 2 {
				io.WriteString(w, string(rest[:n]))
			} else {
				w.Write(rest[:n])
			}
			rest = rest[n:]
		}
	})
}

// FuzzInstrumentTransparency: whatever a handler writes, in whatever pieces
// and with whatever content type, the client receives exactly the same bytes
// and headers with and without Instrument, and the tracker never panics.
func FuzzInstrumentTransparency(f *testing.F) {
	seeds := []struct {
		ct   string
		body string
	}{
		{"text/event-stream", "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n"},
		{"text/event-stream", "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\r\n\r\n"},
		{"application/x-ndjson", "{\"message\":{\"content\":\"a\"},\"done\":false}\n{\"done\":true,\"eval_count\":1}\n"},
		{"application/json", "{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}"},
		{"", "\x00\xff\xfe binary \r\r\n data:"},
		{"text/plain", ""},
	}
	for _, s := range seeds {
		f.Add(s.ct, []byte(s.body), []byte{3, 0, 7, 1})
	}
	tr, err := New(WithObjectives(TTFT(1e9, 0.9), ErrorRate(0.9)))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { tr.Close() })
	f.Fuzz(func(t *testing.T, ct string, body, cuts []byte) {
		orig := bytes.Clone(body)
		bare := httptest.NewRecorder()
		splitWrites(ct, body, cuts).ServeHTTP(bare, httptest.NewRequest("POST", "/", nil))
		inst := httptest.NewRecorder()
		tr.Instrument(splitWrites(ct, body, cuts)).ServeHTTP(inst, httptest.NewRequest("POST", "/", nil))
		if !bytes.Equal(bare.Body.Bytes(), inst.Body.Bytes()) {
			t.Fatalf("body differs:\nbare %q\ninst %q", bare.Body.Bytes(), inst.Body.Bytes())
		}
		if bare.Code != inst.Code || bare.Header().Get("Content-Type") != inst.Header().Get("Content-Type") {
			t.Fatalf("status/headers differ: %d %v vs %d %v", bare.Code, bare.Header(), inst.Code, inst.Header())
		}
		if !bytes.Equal(orig, body) {
			t.Fatal("the handler's buffer was modified")
		}
	})
}
