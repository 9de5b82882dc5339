package faults

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// streamHandler writes n SSE chunks, flushing after each.
func streamHandler(n int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range n {
			fmt.Fprintf(w, "data: {\"i\":%d}\n\n", i)
			http.NewResponseController(w).Flush()
		}
	})
}

func newClient() *http.Client {
	// A fresh transport per test: reset connections must not be reused.
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
}

func TestProviderFaultsZeroValuePassesThrough(t *testing.T) {
	var f ProviderFaults
	srv := httptest.NewServer(f.Wrap(streamHandler(3)))
	defer srv.Close()
	want := "data: {\"i\":0}\n\ndata: {\"i\":1}\n\ndata: {\"i\":2}\n\n"
	resp, err := newClient().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != want {
		t.Errorf("got %d %q", resp.StatusCode, b)
	}
	if diff := cmp.Diff(ProviderStats{Requests: 1}, f.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func TestProviderThrottleAndErrors(t *testing.T) {
	var f ProviderFaults
	srv := httptest.NewServer(f.Wrap(streamHandler(1)))
	defer srv.Close()
	c := newClient()
	for _, tc := range []struct {
		name       string
		plan       ProviderPlan
		status     int
		retryAfter string
	}{
		{"throttle", ProviderPlan{ThrottleRate: 1, RetryAfter: 1500 * time.Millisecond}, 429, "2"},
		{"throttle-no-header", ProviderPlan{ThrottleRate: 1}, 429, ""},
		{"error-default", ProviderPlan{ErrorRate: 1}, 503, ""},
		{"error-500", ProviderPlan{ErrorRate: 1, ErrorStatus: 500}, 500, ""},
		{"none", ProviderPlan{}, 200, ""},
	} {
		f.Set(tc.plan)
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Retry-After") != tc.retryAfter {
			t.Errorf("%s: status %d Retry-After %q, want %d %q", tc.name, resp.StatusCode, resp.Header.Get("Retry-After"), tc.status, tc.retryAfter)
		}
		if tc.status != 200 && !strings.Contains(string(b), `"error"`) {
			t.Errorf("%s: body %q", tc.name, b)
		}
	}
	if diff := cmp.Diff(ProviderStats{Requests: 5, Throttled: 2, Errors: 2}, f.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

// TestProviderRatesSeeded checks that a fixed seed gives the same fault
// sequence and that the shares are near the configured rates.
func TestProviderRatesSeeded(t *testing.T) {
	run := func() (string, ProviderStats) {
		var f ProviderFaults
		f.Set(ProviderPlan{ThrottleRate: 0.2, ErrorRate: 0.1, Seed: 42})
		h := f.Wrap(streamHandler(1))
		var seq strings.Builder
		for range 1000 {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/chat/completions", nil))
			fmt.Fprintf(&seq, "%d,", rec.Code)
		}
		return seq.String(), f.Stats()
	}
	seq1, st1 := run()
	seq2, st2 := run()
	if seq1 != seq2 {
		t.Error("same seed, different fault sequences")
	}
	if st1 != st2 {
		t.Errorf("stats differ: %+v vs %+v", st1, st2)
	}
	t.Logf("seed 42, 1000 requests: %+v", st1)
	// Binomial sd: 12.6 (p=0.2), 9.5 (p=0.1); allow 4 sd.
	if st1.Throttled < 150 || st1.Throttled > 250 || st1.Errors < 62 || st1.Errors > 138 {
		t.Errorf("shares off: %+v", st1)
	}
}

func TestProviderReset(t *testing.T) {
	var f ProviderFaults
	f.Set(ProviderPlan{ResetRate: 1})
	srv := httptest.NewServer(f.Wrap(streamHandler(1)))
	defer srv.Close()
	_, err := newClient().Get(srv.URL)
	if err == nil {
		t.Fatal("request survived a reset")
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
		t.Errorf("err = %v, want connection reset", err)
	}
	if f.Stats().Resets != 1 {
		t.Errorf("stats %+v", f.Stats())
	}
}

func TestProviderDelays(t *testing.T) {
	var f ProviderFaults
	srv := httptest.NewServer(f.Wrap(streamHandler(5)))
	defer srv.Close()
	c := newClient()
	undo, err := ProviderFault{Faults: &f, Plan: ProviderPlan{PrefillDelay: 100 * time.Millisecond, TokenDelay: 20 * time.Millisecond}}.Inject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ttfb := time.Since(start)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	total := time.Since(start)
	t.Logf("prefill 100ms + 5×20ms tokens: ttfb %v, total %v", ttfb, total)
	// The first flush also waits one TokenDelay.
	if ttfb < 120*time.Millisecond || total < 200*time.Millisecond {
		t.Errorf("ttfb %v total %v, want ≥ 120ms and ≥ 200ms", ttfb, total)
	}
	if strings.Count(string(b), "data:") != 5 {
		t.Errorf("body %q", b)
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	_ = undo()
	if f.Plan() != (ProviderPlan{}) {
		t.Errorf("plan after undo: %+v", f.Plan())
	}
	start = time.Now()
	resp, err = c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if d := time.Since(start); d > 150*time.Millisecond { // with the plan it is ≥ 200ms
		t.Errorf("after undo a request took %v", d)
	}
}

func TestProviderDelayHonoursCancel(t *testing.T) {
	var f ProviderFaults
	f.Set(ProviderPlan{PrefillDelay: time.Hour})
	called := false
	h := f.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, "GET", "/", nil))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("delay ignored the request context")
	}
	if called {
		t.Error("handler ran after the client went away")
	}
}

func TestSlowRetrieval(t *testing.T) {
	var s SlowRetrieval
	srv := httptest.NewServer(s.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "[]") })))
	defer srv.Close()
	undo, err := RetrievalFault{Backend: &s, Plan: RetrievalPlan{Delay: 60 * time.Millisecond, Jitter: 10 * time.Millisecond, Seed: 1}}.Inject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer undo()
	start := time.Now()
	resp, err := newClient().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("took %v, want ≥ 60ms", d)
	}
	want := RetrievalPlan{Delay: 60 * time.Millisecond, Jitter: 10 * time.Millisecond, Seed: 1}
	if s.Plan() != want {
		t.Errorf("Plan = %+v", s.Plan())
	}
	s.Set(RetrievalPlan{ErrorRate: 1})
	resp, err = newClient().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("status %d", resp.StatusCode)
	}
}

func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "llmslo.test"},
		DNSNames:     []string{"llmslo.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func handshakeTime(t *testing.T, addr string) time.Duration {
	t.Helper()
	start := time.Now()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	c.Close()
	return d
}

func TestSlowTLSListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sl := SlowTLSListener(l, selfSigned(t), 0)
	defer sl.Close()
	go func() {
		for {
			c, err := sl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
			}()
		}
	}()
	base := handshakeTime(t, l.Addr().String())
	undo, err := TLSFault{Listener: sl, Delay: 150 * time.Millisecond}.Inject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	slow := handshakeTime(t, l.Addr().String())
	t.Logf("handshake %v -> %v with 150ms delay", base, slow)
	if slow < 150*time.Millisecond || slow > base+time.Second {
		t.Errorf("handshake took %v, want ≈150ms", slow)
	}
	_ = undo()
	if sl.Delay() != 0 {
		t.Errorf("delay after undo %v", sl.Delay())
	}
}

func TestAppFaultValidation(t *testing.T) {
	for name, inj := range map[string]Injector{
		"provider":  ProviderFault{},
		"retrieval": RetrievalFault{},
		"tls":       TLSFault{},
	} {
		if _, err := inj.Inject(context.Background()); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
