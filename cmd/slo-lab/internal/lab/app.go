package lab

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// app is the reference service's handler of one run: it touches its
// document buffers, re-ranks (CPU work), calls the retrieval backend, then
// streams a chat completion from the provider to the client as SSE,
// retrying a provider call answered 429 or 503 as Retry-After says.
type app struct {
	prov, retr *http.Client
	provURL    string
	retrURL    string
	mem        *buffers
	work       int // iterations of work() per request (re-ranking the documents)
	retries    int
}

// maxRetryWait bounds the wait before a retry, whatever Retry-After says.
const maxRetryWait = 2 * time.Second

var chatBody = []byte(`{"model":"lab-model","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"What does the runbook say about failover?"}]}`)

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	ctx := r.Context()
	if !a.mem.use(ctx) {
		return
	}
	work(a.work)
	if status, msg := a.retrieve(ctx); status != 0 {
		http.Error(w, msg, status)
		return
	}
	resp, err := a.callProvider(ctx)
	if err != nil {
		http.Error(w, "provider: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		code := http.StatusBadGateway
		if resp.StatusCode == http.StatusTooManyRequests {
			code = http.StatusServiceUnavailable
		}
		http.Error(w, "provider status "+resp.Status, code)
		return
	}
	relay(w, resp.Body)
}

// retrieve calls the retrieval backend; a status other than 0 is the error
// to answer.
func (a *app) retrieve(ctx context.Context) (int, string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.retrURL, strings.NewReader(`{"query":"failover","k":3}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.retr.Do(req)
	if err != nil {
		return http.StatusBadGateway, "retrieval: " + err.Error()
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return http.StatusBadGateway, "retrieval status " + resp.Status
	}
	return 0, ""
}

// callProvider starts the chat completion, retrying up to a.retries times
// a call answered 429 or 503 after the wait its Retry-After asks (1 s when
// it says nothing; at most maxRetryWait).
func (a *app) callProvider(ctx context.Context) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.provURL, bytes.NewReader(chatBody))
		req.Header.Set("Content-Type", "application/json")
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(chatBody)), nil }
		resp, err := a.prov.Do(req)
		if err != nil || attempt >= a.retries ||
			(resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
			return resp, err
		}
		wait := retryAfter(resp.Header.Get("Retry-After"))
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if !sleepUntil(ctx, time.Now().Add(wait)) {
			return nil, ctx.Err()
		}
	}
}

// retryAfter reads a Retry-After header in seconds (1 s when absent or
// unreadable), bounded by maxRetryWait.
func retryAfter(h string) time.Duration {
	secs, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || secs < 0 {
		secs = 1
	}
	return min(time.Duration(secs)*time.Second, maxRetryWait)
}

// relay copies the provider's SSE stream to the client, flushing after
// every event; a stream that breaks ends with an error event.
func relay(w http.ResponseWriter, body io.Reader) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	fl, _ := w.(http.Flusher)
	br := bufio.NewReader(body)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			_, _ = w.Write(line)
			if len(bytes.TrimSpace(line)) == 0 && fl != nil {
				fl.Flush()
			}
		}
		if err == nil || errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if !errors.Is(err, io.EOF) {
			// The upstream stream broke: end ours with an error event.
			_, _ = io.WriteString(w, "data: {\"error\":{\"message\":\"upstream reset\",\"type\":\"server_error\"}}\n\n")
		}
		if fl != nil {
			fl.Flush()
		}
		return
	}
}

// work is CPU-bound work: n rounds of SHA-256 over 4 KiB (the reference
// service re-ranks its retrieved documents). Its cost is fixed in CPU time,
// so a starved or throttled CPU stretches it in wall time. Each call has its
// own buffer: requests run it concurrently.
func work(n int) byte {
	var buf [4096]byte
	var sum [32]byte
	for range n {
		sum = sha256.Sum256(buf[:])
		buf[0] ^= sum[0]
	}
	return buf[0]
}

// workRate returns the iterations of work per millisecond on this CPU.
func workRate() int {
	best := 0
	for range 3 {
		t0 := time.Now()
		work(2000)
		if el := time.Since(t0); el > 0 {
			best = max(best, int(2000*float64(time.Millisecond)/float64(el)))
		}
	}
	return max(best, 1)
}

// buffers are the service's document buffers: a bounded pool (one request
// at a time holds them) of mb MiB that each request writes page by page.
// Warm buffers are allocated once and reused: after the first request they
// cost no page faults. Fresh buffers are mapped and unmapped per request,
// so every page is a new page fault, and under a memory cgroup at its limit
// every page goes through reclaim. A nil *buffers does nothing.
type buffers struct {
	mb    int
	fresh bool
	sem   chan struct{}
	warm  []byte
}

// newBuffers returns the buffers of a workload (nil when mb is 0).
func newBuffers(mb int, fresh bool) *buffers {
	if mb <= 0 {
		return nil
	}
	b := &buffers{mb: mb, fresh: fresh, sem: make(chan struct{}, 1)}
	if !fresh {
		b.warm = make([]byte, mb<<20)
		touchPages(b.warm)
	}
	return b
}

// use writes the buffers once, waiting for the pool; it returns false when
// ctx ended first.
func (b *buffers) use(ctx context.Context) bool {
	if b == nil {
		return true
	}
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	defer func() { <-b.sem }()
	if b.warm != nil {
		touchPages(b.warm)
		return true
	}
	m, err := syscall.Mmap(-1, 0, b.mb<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return true
	}
	touchPages(m)
	_ = syscall.Munmap(m)
	return true
}

// touchPages writes one byte in every page of m.
func touchPages(m []byte) {
	for i := 0; i < len(m); i += 4096 {
		m[i]++
	}
}
