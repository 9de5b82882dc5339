package lab

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	for h, want := range map[string]time.Duration{"": time.Second, "0": 0, "1": time.Second, " 2 ": 2 * time.Second,
		"30": maxRetryWait, "soon": time.Second, "-4": time.Second} {
		if got := retryAfter(h); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
}

// TestAppRetriesAfterThrottle checks that the service retries a provider
// call answered 429 after the Retry-After it was given, and relays the
// stream of the retry; without retries it answers 503 at once.
func TestAppRetriesAfterThrottle(t *testing.T) {
	var calls atomic.Int32
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n")
	}))
	defer prov.Close()
	retr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "{}") }))
	defer retr.Close()
	a := &app{prov: prov.Client(), retr: retr.Client(), provURL: prov.URL, retrURL: retr.URL, retries: 1}
	start := time.Now()
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
	if el := time.Since(start); el < time.Second {
		t.Errorf("answered after %v: the retry did not wait for Retry-After", el)
	}
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "[DONE]") || calls.Load() != 2 {
		t.Errorf("status %d, %d calls, body %q", rec.Code, calls.Load(), rec.Body.String())
	}
	calls.Store(0)
	a.retries = 0
	rec = httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
	if rec.Code != http.StatusServiceUnavailable || calls.Load() != 1 {
		t.Errorf("without retries: status %d after %d calls", rec.Code, calls.Load())
	}
}

// TestRelayBrokenStream checks that a stream that breaks mid-way ends with
// an error event.
func TestRelayBrokenStream(t *testing.T) {
	rec := httptest.NewRecorder()
	relay(rec, io.MultiReader(strings.NewReader("data: {}\n\n"), iotestErr{}))
	if !strings.Contains(rec.Body.String(), `"upstream reset"`) || !strings.HasPrefix(rec.Body.String(), "data: {}\n\n") {
		t.Errorf("relayed %q", rec.Body.String())
	}
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestBuffers(t *testing.T) {
	if b := newBuffers(0, false); b != nil || !b.use(t.Context()) {
		t.Error("no buffers: nil, and use is a no-op")
	}
	warm := newBuffers(2, false)
	if len(warm.warm) != 2<<20 || warm.warm[0] != 1 {
		t.Fatalf("warm buffers not allocated and touched: %d bytes", len(warm.warm))
	}
	if !warm.use(t.Context()) || warm.warm[4096] != 2 {
		t.Error("use did not write the warm buffers")
	}
	fresh := newBuffers(2, true)
	if fresh.warm != nil || !fresh.use(t.Context()) {
		t.Error("fresh buffers keep nothing between requests")
	}
}
