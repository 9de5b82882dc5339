package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/llmslo/slo/internal/testutil"
	"github.com/llmslo/slo/internal/webhook"
)

type hit struct {
	at     time.Time
	header http.Header
	body   string
}

// recorder is a test endpoint: respond(n) decides the answer to the n-th
// request (0-based).
type recorder struct {
	mu      sync.Mutex
	hits    []hit
	respond func(n int, w http.ResponseWriter, r *http.Request)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	n := len(rec.hits)
	rec.hits = append(rec.hits, hit{time.Now(), r.Header.Clone(), string(body)})
	rec.mu.Unlock()
	if rec.respond != nil {
		rec.respond(n, w, r)
	}
}

func (rec *recorder) all() []hit {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]hit(nil), rec.hits...)
}

func newServer(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{respond: respond}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return srv, rec
}

func newSender(t *testing.T, cfg webhook.Config) *webhook.Sender {
	t.Helper()
	s, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func closeWithin(t *testing.T, s *webhook.Sender, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	return s.Close(ctx)
}

var ignorePending = cmpopts.IgnoreFields(webhook.Stats{}, "Pending")

func TestNewValidates(t *testing.T) {
	for _, cfg := range []webhook.Config{
		{},
		{URL: "example.com/hook"},
		{URL: "ftp://example.com/hook"},
		{URL: "http://"},
		{URL: "http://exa mple.com/"},
		{URL: "http://example.com/", QueueSize: -1},
		{URL: "http://example.com/", MaxAttempts: -1},
		{URL: "http://example.com/", BaseBackoff: -1},
		{URL: "http://example.com/", MaxBackoff: -1},
	} {
		s, err := webhook.New(cfg)
		if err == nil {
			_ = s.Close(context.Background())
			t.Errorf("New(%+v) accepted it", cfg)
			continue
		}
		if strings.Contains(err.Error(), "example.com") {
			t.Errorf("error echoes the URL: %v", err)
		}
	}
}

func TestDeliverSigned(t *testing.T) {
	defer testutil.CheckGoroutines(t, 2*time.Second)()
	srv, rec := newServer(t, nil)
	secret := []byte("s3cret")
	s := newSender(t, webhook.Config{
		URL: srv.URL + "/hook", Secret: secret,
		Header: http.Header{"authorization": {"Bearer tok"}, "Content-Type": {"application/cloudevents+json"}},
	})
	body := []byte(`{"incident_id":"i-1"}`)
	if !s.Enqueue(body) {
		t.Fatal("Enqueue refused")
	}
	body[2] = 'X' // the Sender holds its own copy
	if err := closeWithin(t, s, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	hits := rec.all()
	if len(hits) != 1 {
		t.Fatalf("%d requests, want 1", len(hits))
	}
	h := hits[0]
	if h.body != `{"incident_id":"i-1"}` {
		t.Errorf("body = %s", h.body)
	}
	for k, want := range map[string]string{
		"Authorization": "Bearer tok", "Content-Type": "application/cloudevents+json", "User-Agent": "llmslo-webhook/1",
	} {
		if got := h.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if len(h.header.Get(webhook.DeliveryHeader)) < 16 {
		t.Errorf("delivery id %q", h.header.Get(webhook.DeliveryHeader))
	}
	sig := h.header.Get(webhook.SignatureHeader)
	if err := webhook.Verify(secret, sig, []byte(h.body), time.Now(), time.Minute); err != nil {
		t.Errorf("Verify: %v (header %q)", err, sig)
	}
	if err := webhook.Verify(secret, sig, []byte(`{"incident_id":"i-2"}`), time.Now(), time.Minute); !errors.Is(err, webhook.ErrSignatureMismatch) {
		t.Errorf("Verify(tampered) = %v", err)
	}
	if err := webhook.Verify([]byte("other"), sig, []byte(h.body), time.Now(), time.Minute); !errors.Is(err, webhook.ErrSignatureMismatch) {
		t.Errorf("Verify(wrong secret) = %v", err)
	}
	if err := webhook.Verify(secret, sig, []byte(h.body), time.Now().Add(10*time.Minute), time.Minute); !errors.Is(err, webhook.ErrTimestampOutOfTolerance) {
		t.Errorf("Verify(later) = %v", err)
	}
	if diff := cmp.Diff(webhook.Stats{Delivered: 1}, s.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

func TestUnsignedWithoutSecret(t *testing.T) {
	srv, rec := newServer(t, nil)
	s := newSender(t, webhook.Config{URL: srv.URL})
	s.Enqueue([]byte(`{}`))
	if err := closeWithin(t, s, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if hits := rec.all(); len(hits) != 1 || hits[0].header.Get(webhook.SignatureHeader) != "" {
		t.Errorf("hits = %+v", hits)
	}
}

func TestRetries(t *testing.T) {
	status := func(codes ...int) func(int, http.ResponseWriter, *http.Request) {
		return func(n int, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(codes[min(n, len(codes)-1)])
		}
	}
	for _, tc := range []struct {
		name      string
		respond   func(int, http.ResponseWriter, *http.Request)
		attempts  int
		want      webhook.Stats
		wantCode  int // of the error given to OnError; 0: none
		minGapSum time.Duration
	}{
		{"500 then ok", status(500, 502, 200), 3, webhook.Stats{Delivered: 1, Retries: 2}, 0, 0},
		{"429 then ok", status(429, 200), 2, webhook.Stats{Delivered: 1, Retries: 1}, 0, 0},
		{"500 forever", status(500), 4, webhook.Stats{Failed: 1, Retries: 3}, 500, 0},
		{"400", status(400, 200), 1, webhook.Stats{Failed: 1}, 400, 0},
		{"404", status(404, 200), 1, webhook.Stats{Failed: 1}, 404, 0},
		{"redirect not followed", status(307, 200), 1, webhook.Stats{Failed: 1}, 307, 0},
		{"retry-after honoured", func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 0 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		}, 2, webhook.Stats{Delivered: 1, Retries: 1}, 0, time.Second},
		{"retry-after beyond max backoff", func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusServiceUnavailable)
		}, 1, webhook.Stats{Failed: 1}, 503, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer testutil.CheckGoroutines(t, 2*time.Second)()
			srv, rec := newServer(t, tc.respond)
			var mu sync.Mutex
			var errs []error
			s, err := webhook.New(webhook.Config{
				URL: srv.URL, MaxAttempts: 4, BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Second,
				OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() },
			})
			if err != nil {
				t.Fatal(err)
			}
			s.Enqueue([]byte(`{"n":1}`))
			if err := closeWithin(t, s, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			srv.Close()
			hits := rec.all()
			if len(hits) != tc.attempts {
				t.Errorf("%d attempts, want %d", len(hits), tc.attempts)
			}
			for _, h := range hits[1:] {
				if h.header.Get(webhook.DeliveryHeader) != hits[0].header.Get(webhook.DeliveryHeader) {
					t.Errorf("delivery id changed across retries")
				}
			}
			if len(hits) >= 2 {
				if gap := hits[1].at.Sub(hits[0].at); gap < tc.minGapSum {
					t.Errorf("retry after %v, want >= %v", gap, tc.minGapSum)
				}
			}
			if diff := cmp.Diff(tc.want, s.Stats(), ignorePending); diff != "" {
				t.Errorf("Stats (-want +got):\n%s", diff)
			}
			mu.Lock()
			defer mu.Unlock()
			if tc.wantCode == 0 {
				if len(errs) != 0 {
					t.Errorf("OnError called: %v", errs)
				}
				return
			}
			var se *webhook.StatusError
			if len(errs) != 1 || !errors.As(errs[0], &se) || se.StatusCode != tc.wantCode {
				t.Errorf("OnError got %v, want one StatusError %d", errs, tc.wantCode)
			}
			if len(errs) == 1 && strings.Contains(errs[0].Error(), srv.Listener.Addr().String()+"/") {
				t.Errorf("error leaks the path: %v", errs[0])
			}
		})
	}
}

func TestNetworkErrorRetried(t *testing.T) {
	defer testutil.CheckGoroutines(t, 2*time.Second)()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/secret-token"
	srv.Close() // connection refused from now on
	var got error
	s, err := webhook.New(webhook.Config{
		URL: url, MaxAttempts: 3, BaseBackoff: time.Millisecond,
		OnError: func(err error) { got = err },
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Enqueue([]byte(`{}`))
	if err := closeWithin(t, s, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(webhook.Stats{Failed: 1, Retries: 2}, s.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	if got == nil || strings.Contains(got.Error(), "secret-token") {
		t.Errorf("OnError = %v", got)
	}
}

// TestNeverBlocks: with an endpoint that hangs, Enqueue keeps returning at
// once, drops are counted, and Close gives up at its deadline without
// leaking the goroutine.
func TestNeverBlocks(t *testing.T) {
	defer testutil.CheckGoroutines(t, 2*time.Second)()
	release := make(chan struct{})
	srv, _ := newServer(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer srv.Close()    // before the leak check
	defer close(release) // before srv.Close, which waits for handlers
	s, err := webhook.New(webhook.Config{URL: srv.URL, QueueSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for range 1000 {
		if s.Enqueue([]byte(`{}`)) {
			accepted++
		}
	}
	if accepted < 2 || accepted > 3 { // 2 queued, maybe 1 already taken by the goroutine
		t.Errorf("accepted %d", accepted)
	}
	st := s.Stats()
	if st.Dropped != uint64(1000-accepted) {
		t.Errorf("Dropped = %d, want %d", st.Dropped, 1000-accepted)
	}
	start := time.Now()
	err = closeWithin(t, s, 100*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if diff := cmp.Diff(webhook.Stats{Dropped: 1000}, s.Stats()); diff != "" {
		t.Errorf("Stats after Close (-want +got):\n%s", diff)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if s.Enqueue([]byte(`{}`)) {
		t.Error("Enqueue after Close accepted")
	}
}

func TestCloseFlushes(t *testing.T) {
	defer testutil.CheckGoroutines(t, 2*time.Second)()
	srv, rec := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		time.Sleep(time.Millisecond)
		if n%7 == 3 {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	s, err := webhook.New(webhook.Config{URL: srv.URL, QueueSize: 100, BaseBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				if !s.Enqueue(fmt.Appendf(nil, `{"g":%d,"i":%d}`, g, i)) {
					t.Error("Enqueue refused below capacity")
				}
			}
		})
	}
	wg.Wait()
	if err := closeWithin(t, s, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("repeated Close = %v", err)
		}
	}
	srv.Close()
	st := s.Stats()
	if st.Delivered != 100 || st.Dropped != 0 || st.Failed != 0 || st.Pending != 0 {
		t.Errorf("Stats = %+v", st)
	}
	if got := len(rec.all()); got != 100+int(st.Retries) {
		t.Errorf("%d requests for 100 payloads and %d retries", got, st.Retries)
	}
}

// TestConcurrentEnqueueClose races producers with Close under -race: every
// payload ends up delivered or dropped.
func TestConcurrentEnqueueClose(t *testing.T) {
	defer testutil.CheckGoroutines(t, 2*time.Second)()
	srv, _ := newServer(t, nil)
	s, err := webhook.New(webhook.Config{URL: srv.URL, QueueSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				s.Enqueue([]byte(`{}`))
			}
		})
	}
	time.Sleep(time.Millisecond)
	if err := closeWithin(t, s, 20*time.Second); err != nil {
		t.Error(err)
	}
	wg.Wait()
	srv.Close()
	if st := s.Stats(); st.Delivered+st.Dropped != 800 || st.Failed != 0 {
		t.Errorf("Stats = %+v, want delivered+dropped = 800", st)
	}
}

func TestVerify(t *testing.T) {
	secret := []byte("k")
	body := []byte(`{"a":1}`)
	now := time.Unix(1_800_000_000, 0)
	good := webhook.Sign(secret, now, body)
	other := webhook.Sign([]byte("old"), now, body)
	v1 := good[strings.Index(good, "v1="):]
	if want := "t=1800000000,v1="; !strings.HasPrefix(good, want) || len(good) != len(want)+64 {
		t.Fatalf("Sign = %q", good)
	}
	for _, tc := range []struct {
		name   string
		secret []byte
		header string
		now    time.Time
		tol    time.Duration
		want   error
	}{
		{"ok", secret, good, now, 0, nil},
		{"rotation: second v1 matches", secret, other + "," + v1, now, 0, nil},
		{"spaces and unknown keys", secret, "t=1800000000, v0=ab, " + v1, now, 0, nil},
		{"within default tolerance", secret, good, now.Add(5 * time.Minute), 0, nil},
		{"beyond default tolerance", secret, good, now.Add(5*time.Minute + time.Second), 0, webhook.ErrTimestampOutOfTolerance},
		{"future beyond tolerance", secret, good, now.Add(-2 * time.Second), time.Second, webhook.ErrTimestampOutOfTolerance},
		{"empty header", secret, "", now, 0, webhook.ErrNoSignature},
		{"no v1", secret, "t=1800000000", now, 0, webhook.ErrNoSignature},
		{"bad hex v1 only", secret, "t=1800000000,v1=zz", now, 0, webhook.ErrNoSignature},
		{"no t", secret, v1, now, 0, webhook.ErrMalformedSignature},
		{"two t", secret, "t=1,t=2," + v1, now, 0, webhook.ErrMalformedSignature},
		{"bad t", secret, "t=x," + v1, now, 0, webhook.ErrMalformedSignature},
		{"garbage", secret, "hello", now, 0, webhook.ErrMalformedSignature},
		{"timestamp swapped", secret, "t=1800000001," + v1, now, 0, webhook.ErrSignatureMismatch},
		{"other secret", secret, other, now, 0, webhook.ErrSignatureMismatch},
		{"empty secret", nil, good, now, 0, webhook.ErrEmptySecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := webhook.Verify(tc.secret, tc.header, body, tc.now, tc.tol); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add("t=1800000000,v1=00", []byte(`{}`))
	f.Add(webhook.Sign([]byte("k"), now, []byte(`{}`)), []byte(`{}`))
	f.Add(",,=,t=,v1=", []byte(nil))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		_ = webhook.Verify([]byte("k"), header, body, now, time.Minute)
		if err := webhook.Verify([]byte("k"), webhook.Sign([]byte("k"), now, body), body, now, time.Minute); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func TestStatusError(t *testing.T) {
	for _, tc := range []struct {
		err  webhook.StatusError
		want string
	}{
		{webhook.StatusError{StatusCode: 500}, "http status 500"},
		{webhook.StatusError{StatusCode: 429, RetryAfter: 2 * time.Second}, "http status 429 (retry after 2s)"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

// BenchmarkEnqueue measures Enqueue against an endpoint that never answers,
// so that after the first QueueSize calls every call takes the drop path: the
// cost a request path pays when the sink is down.
func BenchmarkEnqueue(b *testing.B) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	s, err := webhook.New(webhook.Config{URL: srv.URL, QueueSize: 1024})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_ = s.Close(ctx)
	}()
	body := []byte(`{"incident_id":"i-1","service":"rag"}`)
	b.ReportAllocs()
	for b.Loop() {
		s.Enqueue(body)
	}
}
