package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmslo/slo"
	"github.com/llmslo/slo/faults"
	"github.com/llmslo/slo/incident"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const serviceName = "rag-service"

// objectives are the service's SLOs. deploy/prometheus/rules.yaml is
// generated from the same list (go run ./examples/rag-service -rules).
func objectives() []slo.Objective {
	return []slo.Objective{
		slo.TTFT(500*time.Millisecond, 0.99),
		slo.TPOT(50*time.Millisecond, 0.99),
		slo.ErrorRate(0.999),
	}
}

// config is what main passes to startApp.
type config struct {
	Addr   string // listen address of the service
	Model  string // upstream model; empty: the upstream's default
	Logger *slog.Logger
	// Env reads the environment (OPENAI_BASE_URL, OPENAI_API_KEY, OLLAMA_HOST,
	// OTEL_EXPORTER_OTLP_ENDPOINT…); nil means os.Getenv.
	Env func(string) string
	// Tracker holds tracker options applied after the service's own (the
	// alert gate, the state file).
	Tracker []slo.Option
}

// upstream is the model provider the service talks to.
type upstream struct {
	Kind     string `json:"kind"`     // "fake", "openai" or "ollama"
	BaseURL  string `json:"base_url"` // ends in /v1
	Model    string `json:"model"`
	Provider string `json:"provider"` // gen_ai.provider.name
	apiKey   string
}

// app is the running service: the instrumented API, its embedded vector
// store and fake provider (each on its own loopback listener), the tracker,
// the Prometheus registry and the status page.
type app struct {
	log     *slog.Logger
	start   time.Time
	reg     *prometheus.Registry
	tracker *slo.Tracker
	tel     *telemetry

	up         upstream
	upClient   *http.Client // to the provider, instrumented client side
	retrClient *http.Client // to the vector store, instrumented client side (retrieval)
	storeURL   string
	storeDocs  int

	provFaults *faults.ProviderFaults // wraps the fake provider
	retrFaults *faults.SlowRetrieval  // wraps the vector store

	lat  *latencyWindow
	load loadStats

	faultMu sync.Mutex
	fault   activeFault

	url     string
	servers []*http.Server
	wg      sync.WaitGroup
	stop    chan struct{}
	closed  atomic.Bool
}

type activeFault struct {
	Name  string    `json:"name,omitempty"`
	Since time.Time `json:"since,omitzero"`
	Plan  string    `json:"plan,omitempty"`
	undo  func() error
}

// startApp starts the vector store, the fake provider (unless a real upstream
// is configured) and the service, each on its own listener, and returns once
// they accept connections. On failure it stops what it started and returns
// the error (a taken port: "bind: address already in use").
func startApp(ctx context.Context, cfg config) (_ *app, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Env == nil {
		cfg.Env = os.Getenv
	}
	// a is no named result: "return nil, err" must not clear the app that
	// the deferred clean-up and the goroutines started below still use.
	a := &app{log: cfg.Logger, start: time.Now(), reg: prometheus.NewRegistry(), stop: make(chan struct{}),
		provFaults: &faults.ProviderFaults{}, retrFaults: &faults.SlowRetrieval{}}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if a.tel, err = newTelemetry(ctx, cfg.Env, serviceName); err != nil {
		return nil, err
	}
	opts := []slo.Option{
		slo.WithService(serviceName),
		slo.WithRegisterer(a.reg),
		slo.WithLogger(cfg.Logger),
		slo.WithIncidentSink(incident.SlogSink(cfg.Logger)),
		slo.WithObjectives(objectives()...),
		slo.WithTracerProvider(a.tel.tp),
	}
	if a.tel.mp != nil {
		opts = append(opts, slo.WithMeterProvider(a.tel.mp))
	}
	if a.tel.lp != nil {
		opts = append(opts, slo.WithLoggerProvider(a.tel.lp))
	}
	opts = append(opts, cfg.Tracker...)
	if a.tracker, err = slo.New(opts...); err != nil {
		return nil, err
	}

	// The retrieval backend: a vector store on its own loopback server.
	store := newVectorStore(corpus)
	a.storeDocs = len(corpus)
	storeURL, err := a.serve("127.0.0.1:0", a.retrFaults.Wrap(store.handler()))
	if err != nil {
		return nil, fmt.Errorf("start vector store: %w", err)
	}
	a.storeURL = storeURL

	// The model provider: a real one from the environment, else the fake.
	a.up = upstreamFromEnv(cfg.Env, cfg.Model)
	if a.up.Kind == "fake" {
		fakeURL, err := a.serve("127.0.0.1:0", a.provFaults.Wrap(newFakeProvider().handler()))
		if err != nil {
			return nil, fmt.Errorf("start fake provider: %w", err)
		}
		a.up.BaseURL = fakeURL + "/v1"
	}
	a.upClient = &http.Client{Transport: newTransport(a.tracker, a.up.Provider, false)}
	a.retrClient = &http.Client{Transport: newTransport(a.tracker, "", true), Timeout: 10 * time.Second}

	a.lat = newLatencyWindow(a.reg)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.lat.run(a.stop, 5*time.Second)
	}()

	if a.url, err = a.serve(cfg.Addr, a.routes()); err != nil {
		return nil, err
	}
	return a, nil
}

// serve starts an HTTP server for h on addr and returns its base URL.
func (a *app) serve(addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	a.servers = append(a.servers, srv)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return "http://" + ln.Addr().String(), nil
}

// URL returns the service's base URL.
func (a *app) URL() string { return a.url }

// Close stops everything started by startApp, the service first.
func (a *app) Close() {
	if a.closed.Swap(true) {
		return
	}
	close(a.stop)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := len(a.servers) - 1; i >= 0; i-- {
		if err := a.servers[i].Shutdown(ctx); err != nil {
			_ = a.servers[i].Close()
		}
	}
	a.clearFault()
	a.wg.Wait()
	if a.tracker != nil {
		_ = a.tracker.Close()
	}
	if a.tel != nil {
		// Its own deadline: draining the servers may have used up ctx's,
		// and this flush is what exports the last spans and metrics.
		tctx, tcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer tcancel()
		_ = a.tel.shutdown(tctx)
	}
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /v1/chat/completions", a.tracker.Instrument(http.HandlerFunc(a.chatCompletions)))
	mux.Handle("POST /chat", a.tracker.Instrument(http.HandlerFunc(a.chat)))
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	mux.HandleFunc("GET /api/status", a.statusJSON)
	mux.HandleFunc("GET /slo", a.statusJSON) // the first version's path
	mux.HandleFunc("POST /api/fault", a.faultAPI)
	mux.HandleFunc("DELETE /api/fault", a.faultAPI)
	mux.HandleFunc("GET /{$}", a.statusPage)
	return mux
}

func upstreamFromEnv(env func(string) string, model string) upstream {
	switch {
	case env("OPENAI_BASE_URL") != "":
		u := upstream{Kind: "openai", BaseURL: strings.TrimRight(env("OPENAI_BASE_URL"), "/"), Model: model,
			Provider: "openai", apiKey: env("OPENAI_API_KEY")}
		if u.Model == "" {
			u.Model = cmpOr(env("OPENAI_MODEL"), "gpt-4o-mini")
		}
		return u
	case env("OLLAMA_HOST") != "":
		host := env("OLLAMA_HOST")
		if !strings.Contains(host, "://") {
			host = "http://" + host
		}
		if pu, err := url.Parse(host); err == nil && pu.Port() == "" && pu.Scheme == "http" {
			pu.Host += ":11434"
			host = pu.String()
		}
		u := upstream{Kind: "ollama", BaseURL: strings.TrimRight(host, "/") + "/v1", Model: model, Provider: "ollama"}
		if u.Model == "" {
			u.Model = cmpOr(env("OLLAMA_MODEL"), "llama3.2")
		}
		return u
	}
	return upstream{Kind: "fake", Model: cmpOr(model, "fake-1"), Provider: "llmslo_fake"}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// retrieve asks the vector store for the k passages closest to query.
func (a *app) retrieve(ctx context.Context, query string, k int) ([]hit, error) {
	body, _ := json.Marshal(searchRequest{Query: query, K: k})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.storeURL+"/search", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.retrClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("retrieval: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("retrieval: vector store answered %s", resp.Status)
	}
	var out searchResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("retrieval: %w", err)
	}
	return out.Results, nil
}

// augment returns the messages sent upstream: a system message with the
// retrieved passages, then the client's messages.
func augment(msgs []chatMessage, hits []hit) []chatMessage {
	var b strings.Builder
	b.WriteString("You are the llmslo documentation assistant. Answer from the context and cite passages as [n].\n\nContext:\n")
	for i, h := range hits {
		fmt.Fprintf(&b, "[%d] %s: %s\n", i+1, h.Title, h.Text)
	}
	sys, _ := json.Marshal(b.String())
	return append([]chatMessage{{Role: "system", Content: sys}}, msgs...)
}

// lastUser returns the text of the last user message.
func lastUser(msgs []chatMessage) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "user" {
			return msgs[i].text()
		}
	}
	return ""
}

// callUpstream sends a chat-completion request to the provider. A non-2xx
// answer is returned as is (the caller relays it).
func (a *app) callUpstream(ctx context.Context, req chatRequest) (*http.Response, error) {
	req.Model = a.up.Model
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, a.up.BaseURL+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	if req.Stream {
		hr.Header.Set("Accept", "text/event-stream")
	}
	if a.up.apiKey != "" {
		hr.Header.Set("Authorization", "Bearer "+a.up.apiKey)
	}
	return a.upClient.Do(hr)
}

// relayError copies a provider's error answer to the client: same status,
// Retry-After and body (a gateway passes throttling on).
func relayError(w http.ResponseWriter, resp *http.Response) {
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	w.Header().Set("Content-Type", cmpOr(resp.Header.Get("Content-Type"), "application/json"))
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, 64<<10))
}

// chatCompletions serves the OpenAI-compatible API: retrieval, then the
// provider, whose answer (streamed or not) is relayed chunk by chunk.
func (a *app) chatCompletions(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || len(req.Messages) == 0 {
		writeOpenAIError(w, http.StatusBadRequest, "invalid_request_error", "want a JSON chat-completion request with messages")
		return
	}
	ctx := r.Context()
	rq := slo.RequestFrom(ctx)
	rq.Model(a.up.Model)
	rq.Provider(a.up.Provider)

	hits, err := a.retrieve(ctx, lastUser(req.Messages), 3)
	if err != nil {
		writeOpenAIError(w, http.StatusBadGateway, "retrieval_error", err.Error())
		return
	}
	clientUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	up := req
	up.Messages = augment(req.Messages, hits)
	if req.Stream {
		up.StreamOptions = &streamOptions{IncludeUsage: true} // always, to report usage
	}
	resp, err := a.callUpstream(ctx, up)
	if err != nil {
		if ctx.Err() == nil {
			writeOpenAIError(w, http.StatusBadGateway, "upstream_error", err.Error())
		}
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		relayError(w, resp)
		return
	}
	if !req.Stream {
		w.Header().Set("Content-Type", cmpOr(resp.Header.Get("Content-Type"), "application/json"))
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	err = relaySSE(resp.Body, func(data []byte) error {
		if isUsageOnly(data) {
			var c struct{ Usage *usage }
			if json.Unmarshal(data, &c) == nil && c.Usage != nil {
				rq.Usage(int64(c.Usage.PromptTokens), int64(c.Usage.CompletionTokens))
			}
			if !clientUsage {
				return nil
			}
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", data); err != nil {
			return err
		}
		if err := rc.Flush(); err != nil {
			return err
		}
		if bytes.Equal(data, []byte("[DONE]")) {
			return errStreamDone // return at once: the client may hang up now
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStreamDone) && ctx.Err() == nil {
		// The upstream stream broke after the 200: tell the client in the
		// stream (an OpenAI-style error event), as providers do.
		b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": "upstream stream broken: " + err.Error(), "type": "upstream_error"}})
		if _, werr := fmt.Fprintf(w, "data: %s\n\n", b); werr == nil {
			_ = rc.Flush()
		}
	}
}

// errStreamDone stops relaySSE after the [DONE] marker.
var errStreamDone = errors.New("stream done")

// isUsageOnly reports whether an SSE data payload is the final usage chunk.
func isUsageOnly(data []byte) bool {
	return bytes.Contains(data, []byte(`"choices":[]`)) && bytes.Contains(data, []byte(`"usage"`))
}

// relaySSE calls fn with the data of every server-sent event of body, the
// [DONE] marker included, until the stream ends or fn fails.
func relaySSE(body io.Reader, fn func(data []byte) error) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue // comments, event names, blank separators
		}
		if err := fn(bytes.TrimPrefix(data, []byte(" "))); err != nil {
			return err
		}
	}
	return sc.Err()
}

// chat serves POST /chat {"message": "..."}: the same RAG pipeline, the answer
// streamed as plain text.
func (a *app) chat(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Message string `json:"message"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil || in.Message == "" {
		http.Error(w, `want {"message": "..."}`, http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	rq := slo.RequestFrom(ctx)
	rq.Model(a.up.Model)
	rq.Provider(a.up.Provider)
	hits, err := a.retrieve(ctx, in.Message, 3)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	content, _ := json.Marshal(in.Message)
	msgs := []chatMessage{{Role: "user", Content: content}}
	resp, err := a.callUpstream(ctx, chatRequest{Messages: augment(msgs, hits), Stream: true, StreamOptions: &streamOptions{IncludeUsage: true}})
	if err != nil {
		if ctx.Err() == nil {
			http.Error(w, "upstream: "+err.Error(), http.StatusBadGateway)
		}
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		http.Error(w, "upstream: "+resp.Status+": "+strings.TrimSpace(string(msg)), resp.StatusCode)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	rc := http.NewResponseController(w)
	var out int64
	_ = relaySSE(resp.Body, func(data []byte) error {
		var c struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
			Usage *usage `json:"usage"`
		}
		if json.Unmarshal(data, &c) != nil {
			return nil // [DONE]
		}
		if c.Usage != nil {
			rq.Usage(int64(c.Usage.PromptTokens), int64(c.Usage.CompletionTokens))
			out = -1
		}
		if len(c.Choices) == 0 || c.Choices[0].Delta.Content == "" {
			return nil
		}
		if out >= 0 {
			out++
		}
		if _, err := io.WriteString(w, c.Choices[0].Delta.Content); err != nil {
			return err
		}
		return rc.Flush()
	})
	if out > 0 {
		rq.Tokens(out)
	}
	var refs []string
	for i, h := range hits {
		refs = append(refs, fmt.Sprintf("[%d] %s", i+1, h.Title))
	}
	_, _ = io.WriteString(w, "\n\nSources: "+strings.Join(refs, "; ")+"\n")
}
