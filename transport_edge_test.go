package slo

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/internal/providertest"
	"github.com/llmslo/slo/semconv"
	openai "github.com/openai/openai-go/v3"
	openaiopt "github.com/openai/openai-go/v3/option"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"
)

// post sends a JSON body through client and returns the body read to its end.
func post(t *testing.T, client *http.Client, url, body string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b, err
}

// TestTransportEdgeCases covers the failure and framing cases, each with
// the body the caller reads compared byte for byte with an uninstrumented
// client's.
func TestTransportEdgeCases(t *testing.T) {
	for _, tc := range []struct {
		name    string
		path    string
		body    string
		resp    providertest.Response
		http2   bool
		readErr bool // the caller's read fails (a reset)
		want    map[attribute.Key]any
		absent  []attribute.Key
	}{
		{name: "429 with Retry-After", path: "/v1/chat/completions", body: `{"model":"m","stream":true}`,
			resp: providertest.Response{Status: 429, RetryAfter: "2"},
			want: map[attribute.Key]any{semconv.ErrorType: "429", semconv.HTTPResponseStatusCode: int64(429),
				semconv.SLOProviderRetryAfterMs: 2000.0, semconv.GenAIProviderName: "openai"},
			absent: []attribute.Key{semconv.SLOTTFTMs}},
		{name: "503 anthropic", path: "/v1/messages", body: `{"model":"m","stream":true}`,
			resp: providertest.Response{Status: 503},
			want: map[attribute.Key]any{semconv.ErrorType: "503", semconv.GenAIProviderName: "anthropic"}},
		{name: "reset mid-stream", path: "/v1/chat/completions", body: `{"model":"m","stream":true}`,
			resp: providertest.Response{Chunks: 10, ResetAfter: 3}, readErr: true,
			want: map[attribute.Key]any{semconv.ErrorType: "reset", semconv.SLOOutputChunks: int64(3)}},
		{name: "reset mid-stream http2", path: "/v1/messages", body: `{"model":"m","stream":true}`,
			resp: providertest.Response{Chunks: 10, ResetAfter: 3}, readErr: true, http2: true,
			want: map[attribute.Key]any{semconv.ErrorType: "reset", semconv.SLOOutputChunks: int64(3)}},
		{name: "truncated stream", path: "/v1/messages", body: `{"model":"m","stream":true}`,
			resp: providertest.Response{Chunks: 4, Truncate: true},
			want: map[attribute.Key]any{semconv.ErrorType: "truncated", semconv.SLOStreamTruncated: true,
				semconv.SLOOutputChunks: int64(4), semconv.GenAIUsageInputTokens: int64(12),
				// message_start's own usage; the final count never came.
				semconv.GenAIUsageOutputTokens: int64(1)}},
		{name: "gzip stream", path: "/v1/chat/completions", body: `{"model":"m","stream":true}`,
			resp: providertest.Response{Chunks: 6, Gzip: true},
			want: map[attribute.Key]any{semconv.SLOOutputChunks: int64(6), semconv.GenAIUsageOutputTokens: int64(6),
				semconv.SLOStreamDialect: "openai_chat"},
			absent: []attribute.Key{semconv.ErrorType}},
		{name: "gzip json", path: "/api/chat", body: `{"model":"m","stream":false}`,
			resp: providertest.Response{Chunks: 6, Gzip: true},
			want: map[attribute.Key]any{semconv.GenAIUsageOutputTokens: int64(6), semconv.GenAIProviderName: "ollama",
				semconv.SLOStreamFormat: "json"},
			absent: []attribute.Key{semconv.ErrorType, semconv.SLOTTFTMs}},
		{name: "8 MiB events", path: "/v1/responses", body: `{"model":"m","stream":true}`,
			resp: providertest.Response{Chunks: 3, Pad: 8 << 20},
			want: map[attribute.Key]any{semconv.SLOOutputChunks: int64(3), semconv.GenAIUsageOutputTokens: int64(3),
				semconv.GenAIUsageInputTokens: int64(12)},
			absent: []attribute.Key{semconv.ErrorType}},
		{name: "http2 stream", path: "/v1/chat/completions", body: `{"model":"m","stream":true}`, http2: true,
			resp: providertest.Response{Chunks: 8, Gap: time.Millisecond},
			want: map[attribute.Key]any{semconv.SLOOutputChunks: int64(8), semconv.GenAIUsageOutputTokens: int64(8),
				semconv.ServerAddress: "127.0.0.1"},
			absent: []attribute.Key{semconv.ErrorType}},
		{name: "ollama ndjson", path: "/api/generate", body: `{"model":"m"}`,
			resp: providertest.Response{Chunks: 5},
			want: map[attribute.Key]any{semconv.SLOOutputChunks: int64(5), semconv.GenAIUsageOutputTokens: int64(5),
				semconv.GenAIOperationName: "generate_content", semconv.SLOStreamFormat: "ndjson"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var srv *providertest.Server
			if tc.http2 {
				srv = providertest.NewHTTP2Server(providertest.Always(tc.resp))
			} else {
				srv = providertest.NewServer(providertest.Always(tc.resp))
			}
			defer srv.Close()
			base := srv.Client().Transport
			_, bare, bareErr := post(t, &http.Client{Transport: base}, srv.URL+tc.path, tc.body)
			h := newHarness(t)
			resp, got, err := post(t, &http.Client{Transport: h.t.Transport(base)}, srv.URL+tc.path, tc.body)
			if tc.readErr {
				if err == nil || bareErr == nil {
					t.Fatalf("read errors: with %v, without %v; want both", err, bareErr)
				}
			} else if err != nil || bareErr != nil {
				t.Fatalf("read errors: with %v, without %v", err, bareErr)
			}
			if !bytes.Equal(bare, got) {
				t.Errorf("body differs with the transport: %d bytes vs %d", len(got), len(bare))
			}
			if tc.http2 && resp != nil && resp.ProtoMajor != 2 {
				t.Errorf("protocol %s, want HTTP/2", resp.Proto)
			}
			span := h.lastClientSpan(t)
			wantAttrs(t, span, tc.want)
			noAttrs(t, span, tc.absent...)
		})
	}
}

// TestSDKRetries drives openai-go's own retries (429 with Retry-After, then
// 500, then success): three attempts, three client spans under one parent,
// the retries counted per provider and marked on the spans.
func TestSDKRetries(t *testing.T) {
	srv := providertest.NewServer(providertest.Sequence(
		providertest.Response{Status: 429, Header: http.Header{"Retry-After-Ms": {"20"}}},
		providertest.Response{Status: 500},
		providertest.Response{Chunks: 3},
	))
	defer srv.Close()
	h := newHarness(t)
	client := openai.NewClient(openaiopt.WithBaseURL(srv.URL+"/v1/"), openaiopt.WithAPIKey("k"),
		openaiopt.WithHTTPClient(&http.Client{Transport: h.t.Transport(nil)}), openaiopt.WithMaxRetries(2))
	ctx, parent := h.tp.Tracer("test").Start(context.Background(), "parent")
	r, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "m",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	parent.End()
	if err != nil {
		t.Fatal(err)
	}
	if r.Choices[0].Message.Content != "tok0 tok1 tok2 " {
		t.Errorf("content = %q", r.Choices[0].Message.Content)
	}
	spans := h.clientSpans()
	if len(spans) != 3 {
		t.Fatalf("%d client spans, want 3", len(spans))
	}
	var got []map[attribute.Key]any
	for _, s := range spans {
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %s not a child of the SDK call's span", s.Name())
		}
		a := attrMap(s)
		m := map[attribute.Key]any{semconv.SLORetries: a[semconv.SLORetries].AsInt64()}
		if v, ok := a[semconv.ErrorType]; ok {
			m[semconv.ErrorType] = v.AsString()
		}
		if v, ok := a[semconv.SLOProviderRetryAfterMs]; ok {
			m[semconv.SLOProviderRetryAfterMs] = v.AsFloat64()
		}
		got = append(got, m)
	}
	want := []map[attribute.Key]any{
		{semconv.SLORetries: int64(0), semconv.ErrorType: "429", semconv.SLOProviderRetryAfterMs: 20.0},
		{semconv.SLORetries: int64(1), semconv.ErrorType: "500"},
		{semconv.SLORetries: int64(2)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	m := h.metrics(t)
	retries, ok := m[semconv.MetricClientRetries].(metricdata.Sum[int64])
	if !ok || len(retries.DataPoints) != 1 || retries.DataPoints[0].Value != 2 {
		t.Fatalf("retries counter = %#v", m[semconv.MetricClientRetries])
	}
	if v, _ := retries.DataPoints[0].Attributes.Value(semconv.GenAIProviderName); v.AsString() != "openai" {
		t.Errorf("retries provider = %q", v.AsString())
	}
}

// TestFeedsServerRequest checks that calls made while serving an
// instrumented request are children of its span and feed its summary.
func TestFeedsServerRequest(t *testing.T) {
	upstream := providertest.NewServer(providertest.Sequence(
		providertest.Response{Status: 429, RetryAfter: "1"},
		providertest.Response{Chunks: 4, Prefill: 30 * time.Millisecond, Gap: 5 * time.Millisecond},
	))
	defer upstream.Close()
	retrieval := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"hits":[]}`)
	}))
	defer retrieval.Close()
	h := newHarness(t)
	llm := &http.Client{Transport: h.t.Transport(nil)}
	vec := &http.Client{Transport: h.t.Transport(nil, Retrieval())}
	var summary attribution.Calls
	srv := httptest.NewServer(h.t.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), "GET", retrieval.URL+"/search", nil)
		resp, err := vec.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		for range 2 {
			req, _ = http.NewRequestWithContext(r.Context(), "POST", upstream.URL+"/v1/chat/completions",
				strings.NewReader(`{"model":"m","stream":true}`))
			req.Header.Set("X-Stainless-Retry-Count", "0")
			resp, err = llm.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			io.Copy(w, resp.Body)
			resp.Body.Close()
		}
		rq := RequestFrom(r.Context())
		rq.mu.Lock()
		summary = rq.calls
		rq.mu.Unlock()
	})))
	defer srv.Close()
	if _, _, err := post(t, srv.Client(), srv.URL+"/chat", `{}`); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if summary.N != 3 || summary.Retrieval != 1 || summary.Throttled != 1 {
		t.Errorf("summary = %+v", summary)
	}
	if summary.RetrievalWait < 20*time.Millisecond || summary.ProviderWait < 40*time.Millisecond ||
		summary.ProviderTTFB <= 0 {
		t.Errorf("waits: %+v", summary)
	}
	var server, clients int
	var serverID trace.SpanID
	for _, s := range h.spans.Ended() {
		if s.SpanKind() == trace.SpanKindServer {
			server++
			serverID = s.SpanContext().SpanID()
		}
	}
	for _, s := range h.clientSpans() {
		clients++
		if s.Parent().SpanID() != serverID {
			t.Errorf("client span %s is not a child of the server span", s.Name())
		}
	}
	if server != 1 || clients != 3 {
		t.Errorf("%d server spans, %d client spans", server, clients)
	}
	rs := h.clientSpans()[0]
	wantAttrs(t, rs, map[attribute.Key]any{semconv.SLOClientRetrieval: true})
	if v := attrMap(rs)[semconv.SLORetrievalVectorDBMs].AsFloat64(); v < 19 {
		t.Errorf("vectordb_ms = %.2f, want ≥ 20", v)
	}
	noAttrs(t, rs, semconv.GenAIOperationName, semconv.SLOTTFTMs)
	if p := h.histPoints(t, semconv.MetricClientRetrieval); len(p) != 1 {
		t.Errorf("retrieval duration points = %d", len(p))
	}
}

// TestErrorClasses checks the error.type of failures before any response.
func TestErrorClasses(t *testing.T) {
	h := newHarness(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so that the server notices the client leaving
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer hang.Close()
	badTLS := httptest.NewTLSServer(http.NotFoundHandler())
	defer badTLS.Close()

	for _, tc := range []struct {
		name, url string
		timeout   time.Duration
		want      string
	}{
		{"refused", "http://" + refused + "/v1/chat/completions", 0, "connect"},
		{"timeout", hang.URL + "/v1/chat/completions", 50 * time.Millisecond, "timeout"},
		{"tls", badTLS.URL + "/v1/chat/completions", 0, "tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := &http.Transport{TLSClientConfig: &tls.Config{}}
			defer base.CloseIdleConnections()
			client := &http.Client{Transport: h.t.Transport(base), Timeout: tc.timeout}
			_, _, err := post(t, client, tc.url, `{"model":"m"}`)
			if err == nil {
				t.Fatal("no error")
			}
			s := h.lastClientSpan(t)
			wantAttrs(t, s, map[attribute.Key]any{semconv.ErrorType: tc.want})
			if s.Status().Code != codes.Error {
				t.Errorf("status = %v", s.Status())
			}
		})
	}
	if got := classifyErr(context.Canceled); got != "cancelled" {
		t.Errorf("classifyErr(Canceled) = %q", got)
	}
	if got := classifyErr(errors.New("weird")); got != "_OTHER" {
		t.Errorf("classifyErr(other) = %q", got)
	}
	if got := classifyErr(io.ErrUnexpectedEOF); got != "reset" {
		t.Errorf("classifyErr(ErrUnexpectedEOF) = %q", got)
	}
}

// deadlineOnly is a context whose deadline has passed but which does not yet
// say it is done: the moment between http.Client's own timer cancelling a
// wrapped transport and the context's timer firing.
type deadlineOnly struct {
	context.Context
	dl time.Time
}

func (d deadlineOnly) Deadline() (time.Time, bool) { return d.dl, true }

func TestTimeoutBeforeContextSaysSo(t *testing.T) {
	canceled := errors.New("net/http: request canceled")
	past := deadlineOnly{context.Background(), time.Now().Add(-time.Millisecond)}
	if past.Err() != nil {
		t.Fatal("the context says it is done")
	}
	if got := (&call{ctx: past}).classify(canceled); got != "timeout" {
		t.Errorf("after the deadline: classify = %q, want timeout", got)
	}
	future := deadlineOnly{context.Background(), time.Now().Add(time.Hour)}
	if got := (&call{ctx: future}).classify(canceled); got != "cancelled" {
		t.Errorf("before the deadline: classify = %q, want cancelled", got)
	}
	if got := (&call{ctx: context.Background()}).classify(canceled); got != "cancelled" {
		t.Errorf("no deadline: classify = %q, want cancelled", got)
	}
	// A body abandoned when the context ended, with the cause a plain
	// cancellation: the deadline decides too.
	for _, tc := range []struct {
		name          string
		ctx           context.Context
		want          string
		wantCancelled bool
	}{
		{"after the deadline", past, "timeout", false},
		{"before the deadline", future, "cancelled", true},
		{"no deadline", context.Background(), "cancelled", true},
	} {
		var r callResult
		(&call{ctx: tc.ctx, status: 200}).outcome(endCanceled, context.Canceled, &r)
		if r.errorType != tc.want || r.cancelled != tc.wantCancelled {
			t.Errorf("%s: abandoned body: error.type %q cancelled %v, want %q %v",
				tc.name, r.errorType, r.cancelled, tc.want, tc.wantCancelled)
		}
	}
}

// TestBodyTimeout checks that http.Client's Timeout firing while the body
// streams is a timeout, not a cancellation.
func TestBodyTimeout(t *testing.T) {
	h := newHarness(t)
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer stall.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: h.t.Transport(base), Timeout: 100 * time.Millisecond}
	_, _, err := post(t, client, stall.URL+"/v1/chat/completions", `{"model":"m","stream":true}`)
	if err == nil {
		t.Fatal("no error")
	}
	wantAttrs(t, h.lastClientSpan(t), map[attribute.Key]any{semconv.ErrorType: "timeout"})
}
