package slo

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// receiver records the requests an alerting sink makes and answers them
// with the statuses in fail first, then with ok.
type receiver struct {
	mu   sync.Mutex
	reqs []recorded
	fail []int
	ok   int
	ch   chan struct{}
}

type recorded struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

func newReceiver(ok int, fail ...int) (*receiver, *httptest.Server) {
	r := &receiver{fail: fail, ok: ok, ch: make(chan struct{}, 64)}
	return r, httptest.NewServer(r)
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), b})
	status := rc.ok
	if len(rc.fail) > 0 {
		status, rc.fail = rc.fail[0], rc.fail[1:]
	}
	rc.mu.Unlock()
	w.WriteHeader(status)
	select {
	case rc.ch <- struct{}{}:
	default:
	}
}

// wait returns once n requests arrived, or fails the test after 5 s.
func (rc *receiver) wait(t *testing.T, n int) []recorded {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		rc.mu.Lock()
		if len(rc.reqs) >= n {
			out := append([]recorded(nil), rc.reqs...)
			rc.mu.Unlock()
			return out
		}
		rc.mu.Unlock()
		select {
		case <-rc.ch:
		case <-deadline:
			t.Fatalf("%d requests after 5 s, want %d", len(rc.reqs), n)
		}
	}
}

func testIncident() Incident {
	return Incident{
		ID: "inc-1", Time: time.Date(2026, 11, 27, 1, 2, 3, 0, time.UTC), Cluster: "eu1", Namespace: "rag",
		Service: "chat", Objective: "ttft_500ms_p99", Severity: "page", Rule: "1h>14.4 and 5m>14.4",
		PredictedFaultDomain: "network_dns", Confidence: 0.93,
		Evidence:   []Evidence{{Signal: "kernel.dns_ms", Value: 412, Source: "ebpf"}},
		Impact:     Impact{SLI: "ttft_ms", BurnRate: 20, WindowMinutes: 60},
		TraceIDs:   []string{"4bf92f3577b34da6a3ce929d0e0e4736"},
		RequestIDs: []string{},
		Hypotheses: []Hypothesis{{Domain: "network_dns", Posterior: 0.93, Evidence: []string{"kernel.dns_ms"}}},
	}
}

func TestPagerDutyTriggerShapeAndRetry(t *testing.T) {
	rc, srv := newReceiver(http.StatusAccepted, http.StatusInternalServerError)
	defer srv.Close()
	s, err := NewPagerDutySink("R0UTINGKEY", PagerDutyURL(srv.URL+"/v2/enqueue"), PagerDutyRetries(3, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if err := s.Send(context.Background(), testIncident()); err != nil {
		t.Fatal(err)
	}
	reqs := rc.wait(t, 2)
	if string(reqs[0].Body) != string(reqs[1].Body) {
		t.Errorf("the retry sent another body:\n%s\n%s", reqs[0].Body, reqs[1].Body)
	}
	if reqs[1].Method != http.MethodPost || reqs[1].Path != "/v2/enqueue" || reqs[1].Header.Get("Content-Type") != "application/json" {
		t.Errorf("request = %s %s %v", reqs[1].Method, reqs[1].Path, reqs[1].Header)
	}
	var got map[string]any
	if err := json.Unmarshal(reqs[1].Body, &got); err != nil {
		t.Fatal(err)
	}
	payload := got["payload"].(map[string]any)
	details := payload["custom_details"].(map[string]any)
	want := map[string]any{
		"routing_key":  "R0UTINGKEY",
		"event_action": "trigger",
		"dedup_key":    "llmslo/chat/ttft_500ms_p99/1h>14.4 and 5m>14.4",
		"client":       "llmslo",
		"summary":      "SLO ttft_500ms_p99 burning on chat (1h>14.4 and 5m>14.4): network_dns (p=0.93)",
		"source":       "chat",
		"severity":     "critical",
		"timestamp":    "2026-11-27T01:02:03Z",
		"component":    "ttft_500ms_p99",
		"group":        "eu1",
		"class":        "network_dns",
		"incident_id":  "inc-1",
	}
	have := map[string]any{
		"routing_key": got["routing_key"], "event_action": got["event_action"], "dedup_key": got["dedup_key"], "client": got["client"],
		"summary": payload["summary"], "source": payload["source"], "severity": payload["severity"], "timestamp": payload["timestamp"],
		"component": payload["component"], "group": payload["group"], "class": payload["class"], "incident_id": details["incident_id"],
	}
	if d := cmp.Diff(want, have); d != "" {
		t.Errorf("event (-want +got):\n%s", d)
	}
	time.Sleep(20 * time.Millisecond)
	if delivered, dropped, failed, retries, _ := s.Stats(); delivered != 1 || dropped != 0 || failed != 0 || retries != 1 {
		t.Errorf("stats = delivered %d dropped %d failed %d retries %d, want 1 0 0 1", delivered, dropped, failed, retries)
	}
}

func TestPagerDutyGivesUpOn4xx(t *testing.T) {
	rc, srv := newReceiver(http.StatusAccepted, http.StatusBadRequest)
	defer srv.Close()
	gaveUp := make(chan error, 1)
	s, err := NewPagerDutySink("k", PagerDutyURL(srv.URL), PagerDutyRetries(3, time.Millisecond),
		PagerDutyOnError(func(err error) { gaveUp <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	_ = s.Send(context.Background(), testIncident())
	select {
	case <-gaveUp:
	case <-time.After(5 * time.Second):
		t.Fatal("a 400 was not given up")
	}
	if n := len(rc.wait(t, 1)); n != 1 {
		t.Errorf("%d attempts, want 1 (4xx is not retried)", n)
	}
}

func TestPagerDutyRejectsEmptyRoutingKey(t *testing.T) {
	if _, err := NewPagerDutySink(" "); err == nil {
		t.Error("empty routing key accepted")
	}
	if _, err := NewPagerDutySink("k", PagerDutyURL("ftp://x")); err == nil {
		t.Error("non-http url accepted")
	}
}

// TestPagerDutyResolvesWhenConditionClears drives a tracker into a page and
// out of it (its windows empty four days later) and expects a trigger, then
// a resolve with the same dedup key.
func TestPagerDutyResolvesWhenConditionClears(t *testing.T) {
	rc, srv := newReceiver(http.StatusAccepted)
	defer srv.Close()
	s, err := NewPagerDutySink("k", PagerDutyURL(srv.URL), PagerDutyRetries(2, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	tr, err := New(WithObjectives(ErrorRate(0.99)), WithIncidentSink(s), withClock(clk.Now), WithService("chat"),
		WithTracerProvider(sdktrace.NewTracerProvider()), WithoutProbes())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	s.ResolveWith(tr, 20*time.Millisecond)
	h := tr.Instrument(statusHandler)
	for range 20 {
		serve(h, "500")
	}
	reqs := rc.wait(t, 1)
	var trig pdEvent
	if err := json.Unmarshal(reqs[0].Body, &trig); err != nil {
		t.Fatal(err)
	}
	if trig.EventAction != "trigger" {
		t.Fatalf("first event %q, want trigger", trig.EventAction)
	}
	clk.Advance(96 * time.Hour)
	reqs = rc.wait(t, 2)
	var res pdEvent
	if err := json.Unmarshal(reqs[len(reqs)-1].Body, &res); err != nil {
		t.Fatal(err)
	}
	if res.EventAction != "resolve" || res.DedupKey != trig.DedupKey || res.Payload != nil || res.RoutingKey != "k" {
		t.Errorf("resolve event = %+v, want resolve of %q", res, trig.DedupKey)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(rc.wait(t, 2)); n != 2 {
		t.Errorf("%d events, want exactly 2 (one resolve per trigger)", n)
	}
}

func ExampleNewPagerDutySink() {
	pd, err := NewPagerDutySink("YOUR_EVENTS_V2_ROUTING_KEY")
	if err != nil {
		panic(err)
	}
	t, err := New(WithObjectives(TTFT(500*time.Millisecond, 0.99)), WithIncidentSink(pd))
	if err != nil {
		panic(err)
	}
	defer t.Close()      // closes pd too
	pd.ResolveWith(t, 0) // resolve in PagerDuty when the burn-rate condition clears
}
