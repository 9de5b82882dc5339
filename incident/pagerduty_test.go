package incident

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

// fakeMonitor is a Monitor of service "chat" whose holding conditions are set by the test.
type fakeMonitor struct {
	mu      sync.Mutex
	holding map[Condition]bool
}

func (m *fakeMonitor) set(c Condition, holding bool) {
	m.mu.Lock()
	m.holding[c] = holding
	m.mu.Unlock()
}

func (m *fakeMonitor) Holding(c Condition) (holding, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	holding, ok = m.holding[c]
	return holding, ok
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
	s, err := NewPagerDutySink("R0UTINGKEY", PagerDutyOptions{URL: srv.URL + "/v2/enqueue", Delivery: Delivery{Attempts: 3, Backoff: time.Millisecond}})
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
	s, err := NewPagerDutySink("k", PagerDutyOptions{URL: srv.URL,
		Delivery: Delivery{Attempts: 3, Backoff: time.Millisecond, OnError: func(err error) { gaveUp <- err }}})
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
	if _, err := NewPagerDutySink(" ", PagerDutyOptions{}); err == nil {
		t.Error("empty routing key accepted")
	}
	if _, err := NewPagerDutySink("k", PagerDutyOptions{URL: "ftp://x"}); err == nil {
		t.Error("non-http url accepted")
	}
}

// TestPagerDutyResolvesWhenConditionClears triggers an incident, lets its
// condition clear on the monitor and expects a resolve with the same dedup
// key, once; conditions the monitor does not judge are left open.
func TestPagerDutyResolvesWhenConditionClears(t *testing.T) {
	rc, srv := newReceiver(http.StatusAccepted)
	defer srv.Close()
	s, err := NewPagerDutySink("k", PagerDutyOptions{URL: srv.URL, Delivery: Delivery{Attempts: 2, Backoff: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	inc, other := testIncident(), testIncident()
	other.Service = "elsewhere"
	m := &fakeMonitor{holding: map[Condition]bool{inc.Condition(): true}}
	s.ResolveWith(m, 5*time.Millisecond)
	for _, i := range []Incident{inc, other} {
		if err := s.Send(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	reqs := rc.wait(t, 2)
	var trig pdEvent
	if err := json.Unmarshal(reqs[0].Body, &trig); err != nil {
		t.Fatal(err)
	}
	if trig.EventAction != "trigger" {
		t.Fatalf("first event %q, want trigger", trig.EventAction)
	}
	time.Sleep(50 * time.Millisecond) // several checks while the condition holds
	m.set(inc.Condition(), false)
	reqs = rc.wait(t, 3)
	var res pdEvent
	if err := json.Unmarshal(reqs[2].Body, &res); err != nil {
		t.Fatal(err)
	}
	if res.EventAction != "resolve" || res.DedupKey != trig.DedupKey || res.Payload != nil || res.RoutingKey != "k" {
		t.Errorf("resolve event = %+v, want resolve of %q", res, trig.DedupKey)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(rc.wait(t, 3)); n != 3 {
		t.Errorf("%d events, want exactly 3 (two triggers, one resolve)", n)
	}
}
