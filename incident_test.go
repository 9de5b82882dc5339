package slo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/llmslo/slo/incident"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// ungated turns the alert gate off (no coverage asked, no minimum of
// requests), for tests of what happens once an incident is raised: they
// page a tracker seconds old, which the default gate forbids
// (TestColdStartGate, and internal/burn's tests of the gate).
func ungated() Option {
	return optionFunc(func(c *config) {
		WithMinCoverage(0).apply(c)
		WithMinEvents(1).apply(c)
	})
}

// fakeClock is a settable wall clock for burn-rate windows.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type captureSink struct {
	mu   sync.Mutex
	got  []incident.Incident
	when []time.Time
	ch   chan struct{}
}

func (s *captureSink) Send(_ context.Context, inc incident.Incident) error {
	s.mu.Lock()
	s.got = append(s.got, inc)
	s.when = append(s.when, time.Now())
	s.mu.Unlock()
	select {
	case s.ch <- struct{}{}:
	default:
	}
	return nil
}

// first waits up to d for an incident and returns the first one received.
func (s *captureSink) first(t *testing.T, d time.Duration) incident.Incident {
	t.Helper()
	select {
	case <-s.ch:
	case <-time.After(d):
		t.Fatalf("no incident after %v", d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[0]
}

func (s *captureSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// statusHandler answers with the status in the "s" query parameter.
var statusHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("s") == "500" {
		w.WriteHeader(500)
	}
	w.Write([]byte("ok"))
})

func serve(h http.Handler, status string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/?s="+status, nil))
}

func TestIncidentFiresOnceWithinASecond(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	sink := &captureSink{ch: make(chan struct{}, 8)}
	tp := sdktrace.NewTracerProvider()
	tr, err := New(WithObjectives(ErrorRate(0.99)), WithIncidentSink(sink), withClock(clk.Now), WithService("chat"), ungated(),
		WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	h := tr.Instrument(statusHandler)

	// 1000 good requests over the past 50 minutes keep every burn rate at 0.
	for range 1000 {
		serve(h, "200")
		clk.Advance(3 * time.Second)
	}
	if sink.count() != 0 {
		t.Fatal("incident without errors")
	}
	// Then b errors, all at the same instant. By hand (budget 1 %):
	//   ticket (3d>1 and 6h>1):   b/(1000+b) > 1 %  ⇔ b ≥ 11 (the 6h and 3d windows hold all 1000 good)
	//   page   (6h>6 and 30m>6):  b/(1000+b) > 6 %  ⇔ b ≥ 64 (30m holds 600 good: b ≥ 39, weaker)
	//   page   (1h>14.4, 5m>14.4) would need b ≥ 169, but a page is already raised.
	served := map[int]time.Time{}
	for i := 1; i <= 300; i++ {
		serve(h, "500")
		served[i] = time.Now()
	}
	time.Sleep(1500 * time.Millisecond) // at least one evaluation tick while the conditions keep holding
	sink.mu.Lock()
	got := append([]incident.Incident(nil), sink.got...)
	when := append([]time.Time(nil), sink.when...)
	sink.mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("%d incidents, want 2 (ticket, then page): %+v", len(got), got)
	}
	for i, want := range []struct {
		severity, rule string
		bad            int
		burn           float64
		window         float64
	}{
		{"ticket", "3d>1 and 6h>1", 11, 11.0 / 1011 / 0.01, 72 * 60},
		{"page", "6h>6 and 30m>6", 64, 64.0 / 1064 / 0.01, 6 * 60},
	} {
		inc := got[i]
		if inc.Severity != want.severity || inc.Rule != want.rule || inc.Objective != "error_rate_p99" || inc.Service != "chat" {
			t.Errorf("incident %d = %s %q %s, want %s %q", i, inc.Severity, inc.Rule, inc.Objective, want.severity, want.rule)
		}
		if d := inc.Impact.BurnRate - want.burn; d > 1e-9 || d < -1e-9 {
			t.Errorf("incident %d burn rate = %v, want %v (b = %d)", i, inc.Impact.BurnRate, want.burn, want.bad)
		}
		if inc.Impact.WindowMinutes != want.window || inc.Impact.SLI != "error_rate" {
			t.Errorf("incident %d impact = %+v", i, inc.Impact)
		}
		if d := when[i].Sub(served[want.bad]); d > time.Second {
			t.Errorf("incident %d delivered %v after the condition held, want ≤ 1 s", i, d)
		}
		if len(inc.TraceIDs) == 0 {
			t.Errorf("incident %d has no exemplar trace ids", i)
		}
	}

	checkRefire(t, clk, tr, h, sink)
}

// checkRefire: four days after the incidents of TestIncidentFiresOnceWithinASecond
// every window is empty, the condition clears, and fresh errors raise a new incident.
func checkRefire(t *testing.T, clk *fakeClock, tr *Tracker, h http.Handler, sink *captureSink) {
	t.Helper()
	clk.Advance(96 * time.Hour)
	time.Sleep(1500 * time.Millisecond)
	if b := tr.Budget()[0]; len(b.Alerting) != 0 {
		t.Fatalf("still alerting after the windows emptied: %v", b.Alerting)
	}
	for range 20 {
		serve(h, "500")
	}
	time.Sleep(100 * time.Millisecond)
	if n := sink.count(); n != 3 {
		t.Errorf("%d incidents, want 3: the condition cleared and held again", n)
	}
	sink.mu.Lock()
	if last := sink.got[len(sink.got)-1]; last.Severity != "page" || last.Rule != "1h>14.4 and 5m>14.4" {
		t.Errorf("re-fired incident = %s %q", last.Severity, last.Rule)
	}
	sink.mu.Unlock()
}

func TestBudgetFigures(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	tr, err := New(WithObjectives(ErrorRate(0.99)), withClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	h := tr.Instrument(statusHandler)
	// 2 h ago: 100 requests, 10 bad. Now: 100 requests, 1 bad.
	for i := range 100 {
		serve(h, map[bool]string{true: "500", false: "200"}[i < 10])
	}
	clk.Advance(2 * time.Hour)
	for i := range 100 {
		serve(h, map[bool]string{true: "500", false: "200"}[i < 1])
	}
	b := tr.Budget()[0]
	rates := map[string]float64{}
	for _, w := range b.BurnRates {
		rates[w.Window] = w.Rate
	}
	want := map[string]float64{
		"5m": 1, "30m": 1, "1h": 1, // 1 bad of 100, budget 1 %
		"6h": 5.5, "1d": 5.5, "3d": 5.5, // 11 bad of 200
	}
	if diff := cmp.Diff(want, rates, cmp.Comparer(func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 })); diff != "" {
		t.Errorf("burn rates (-want +got):\n%s", diff)
	}
	// Budget: 200 judged allow 2 bad; 11 were bad → 1 − 11/2 = −4.5, shown
	// as 0 and exhausted. Coverage: 2 h of the 30-day period.
	if b.RemainingRaw < -4.5-1e-9 || b.RemainingRaw > -4.5+1e-9 || b.Remaining != 0 || !b.Exhausted || b.Total != 200 || b.Good != 189 {
		t.Errorf("budget = %+v", b)
	}
	if c := b.Coverage - 2.0/720; c > 1e-12 || c < -1e-12 || b.Origin != OriginCold {
		t.Errorf("coverage %v, origin %q; want 2/720, cold", b.Coverage, b.Origin)
	}
}

func TestIncidentAttributesProviderThrottle(t *testing.T) {
	sink := &captureSink{ch: make(chan struct{}, 8)}
	tr, err := New(WithObjectives(ErrorRate(0.99)), WithIncidentSink(sink), ungated())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	h := tr.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rq := RequestFrom(r.Context())
		if r.URL.Query().Get("s") == "500" {
			// The upstream answered 429: what the client transport reports.
			rq.noteClientCall(clientCall{Status: 429, ErrorType: "429", Duration: 3 * time.Millisecond, TTFB: 3 * time.Millisecond})
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rq.noteClientCall(clientCall{Status: 200, Duration: 40 * time.Millisecond, TTFB: 20 * time.Millisecond})
		w.Write([]byte("ok"))
	}))
	for range 50 {
		serve(h, "200")
	}
	for range 10 {
		serve(h, "500")
	}
	inc := sink.first(t, 2*time.Second)
	if inc.PredictedFaultDomain != "provider_throttle" || inc.Confidence < 0.5 {
		t.Fatalf("incident attributed to %s (%.2f), want provider_throttle: %+v", inc.PredictedFaultDomain, inc.Confidence, inc.Hypotheses)
	}
	if len(inc.Evidence) == 0 || inc.Evidence[0].Signal != "app.throttled" || inc.Evidence[0].Value != 1 {
		t.Errorf("evidence = %+v", inc.Evidence)
	}
}
