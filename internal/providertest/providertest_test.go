package providertest

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func post(t *testing.T, c *http.Client, url, body string) (*http.Response, string, error) {
	t.Helper()
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

// payloads returns the JSON payloads of an SSE or NDJSON body, checking
// each one parses.
func payloads(t *testing.T, body string, sse bool) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if sse {
			if !strings.HasPrefix(line, "data: ") {
				continue
			}
			line = strings.TrimPrefix(line, "data: ")
			if line == "[DONE]" {
				continue
			}
		}
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad payload %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestDialects(t *testing.T) {
	s := NewServer(Always(Response{Chunks: 4}))
	defer s.Close()
	for _, tc := range []struct {
		path, body, ctype string
		stream, sse       bool
		last              string // a string the body ends with (after trimming)
		events            int
	}{
		{"/v1/chat/completions", `{"model":"m","stream":true}`, "text/event-stream", true, true, "data: [DONE]", 7},
		{"/v1/chat/completions", `{"model":"m"}`, "application/json", false, false, "}", 1},
		{"/v1/responses", `{"model":"m","stream":true}`, "text/event-stream", true, true, "}", 9},
		{"/v1/responses", `{"model":"m"}`, "application/json", false, false, "}", 1},
		{"/v1/messages", `{"model":"m","stream":true}`, "text/event-stream", true, true, `{"type":"message_stop"}`, 10},
		{"/v1/messages", `{"model":"m"}`, "application/json", false, false, "}", 1},
		{"/api/chat", `{"model":"m"}`, "application/x-ndjson", true, false, "}", 5},
		{"/api/chat", `{"model":"m","stream":false}`, "application/json", false, false, "}", 1},
		{"/api/generate", `{"model":"m"}`, "application/x-ndjson", true, false, "}", 5},
	} {
		resp, body, err := post(t, s.Client(), s.URL+tc.path, tc.body)
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != tc.ctype {
			t.Errorf("%s %s: content type %q, want %q", tc.path, tc.body, ct, tc.ctype)
		}
		if !strings.HasSuffix(strings.TrimSpace(body), tc.last) {
			t.Errorf("%s %s: body ends %q", tc.path, tc.body, body[max(0, len(body)-40):])
		}
		if n := len(payloads(t, body, tc.sse)); n != tc.events {
			t.Errorf("%s %s: %d payloads, want %d", tc.path, tc.body, n, tc.events)
		}
		if !strings.Contains(body, "tok3 ") || !strings.Contains(body, `"m"`) {
			t.Errorf("%s %s: output or model missing: %s", tc.path, tc.body, body)
		}
	}
	served, err := s.WaitServed(9, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for i, sv := range served {
		if sv.Request.Model != "m" || sv.Truth.OutputChunks != 4 || sv.Truth.End.Before(sv.Truth.LastOutput) {
			t.Errorf("served[%d] = %+v", i, sv)
		}
	}
}

func TestPacingAndErrors(t *testing.T) {
	s := NewServer(Sequence(
		Response{Status: 429, RetryAfter: "3"},
		Response{Status: 529},
		Response{Chunks: 3, Prefill: 30 * time.Millisecond, Gap: 10 * time.Millisecond},
	))
	defer s.Close()
	resp, body, _ := post(t, s.Client(), s.URL+"/v1/chat/completions", `{"stream":true}`)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" || !strings.Contains(body, "rate_limit_exceeded") {
		t.Errorf("429: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp, body, _ = post(t, s.Client(), s.URL+"/v1/messages", `{"stream":true}`)
	if resp.StatusCode != 529 || !strings.Contains(body, "overloaded_error") {
		t.Errorf("529: %d %s", resp.StatusCode, body)
	}
	post(t, s.Client(), s.URL+"/v1/messages", `{"stream":true}`)
	served, _ := s.WaitServed(3, time.Second)
	tr := served[2].Truth
	if d := tr.FirstOutput.Sub(tr.Headers); d < 30*time.Millisecond {
		t.Errorf("prefill %v < 30ms", d)
	}
	if d := tr.LastOutput.Sub(tr.FirstOutput); d < 20*time.Millisecond {
		t.Errorf("two gaps %v < 20ms", d)
	}
}

func TestResetAndTruncate(t *testing.T) {
	s := NewServer(Sequence(Response{Chunks: 5, ResetAfter: 2}, Response{Chunks: 5, Truncate: true}))
	defer s.Close()
	_, body, err := post(t, s.Client(), s.URL+"/v1/chat/completions", `{"stream":true}`)
	if err == nil || !strings.Contains(body, "tok1 ") || strings.Contains(body, "tok2") {
		t.Errorf("reset: err %v, body %q", err, body)
	}
	_, body, err = post(t, s.Client(), s.URL+"/v1/chat/completions", `{"stream":true}`)
	if err != nil || strings.Contains(body, "[DONE]") || !strings.Contains(body, "tok4") {
		t.Errorf("truncate: err %v, body %q", err, body)
	}
	served, _ := s.WaitServed(2, time.Second)
	if !served[0].Truth.Aborted || served[0].Truth.OutputChunks != 2 {
		t.Errorf("reset truth = %+v", served[0].Truth)
	}
}

func TestGzipAndHTTP2(t *testing.T) {
	s := NewHTTP2Server(Always(Response{Chunks: 3, Gzip: true}))
	defer s.Close()
	resp, body, err := post(t, s.Client(), s.URL+"/api/chat", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 || !resp.Uncompressed || len(payloads(t, body, false)) != 4 {
		t.Errorf("proto %s uncompressed %v body %q", resp.Proto, resp.Uncompressed, body)
	}
}

func TestUnknownPath(t *testing.T) {
	s := NewServer(nil)
	defer s.Close()
	resp, _, _ := post(t, s.Client(), s.URL+"/nope", `{}`)
	if resp.StatusCode != 404 {
		t.Errorf("status %d", resp.StatusCode)
	}
	if DialectForPath("/v1/messages") != Anthropic || Anthropic.String() != "anthropic" {
		t.Error("DialectForPath")
	}
}
