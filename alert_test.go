package slo

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/llmslo/slo/incident"
	"github.com/llmslo/slo/internal/burn"
)

// TestSeverityNames: the severities the engine names are the ones incidents
// and their sinks compare with.
func TestSeverityNames(t *testing.T) {
	if burn.Page.String() != incident.SeverityPage || burn.Ticket.String() != incident.SeverityTicket {
		t.Errorf("engine severities %q, %q; incident package %q, %q",
			burn.Page, burn.Ticket, incident.SeverityPage, incident.SeverityTicket)
	}
}

// TestTrackerResolvesPagerDuty drives a tracker into a page and out of it
// (its windows empty four days later) with a PagerDuty sink watching it,
// and expects a trigger, then a resolve with the same dedup key; Holding
// answers for the tracker's own conditions only.
func TestTrackerResolvesPagerDuty(t *testing.T) {
	events := make(chan map[string]any, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &ev); err == nil {
			events <- ev
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	pd, err := incident.NewPagerDutySink("k", incident.PagerDutyOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	tr, err := New(WithObjectives(ErrorRate(0.99)), WithIncidentSink(pd), withClock(clk.Now), WithService("chat"), ungated(),
		WithTracerProvider(sdktrace.NewTracerProvider()), WithoutProbes())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	pd.ResolveWith(tr, 20*time.Millisecond)
	h := tr.Instrument(statusHandler)
	for range 20 {
		serve(h, "500")
	}
	next := func() map[string]any {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no event after 5 s")
			return nil
		}
	}
	trig := next()
	cond := incident.Condition{Service: "chat", Objective: "error_rate_p99", Rule: "1h>14.4 and 5m>14.4"}
	if trig["event_action"] != "trigger" || trig["dedup_key"] != "llmslo/chat/error_rate_p99/1h>14.4 and 5m>14.4" {
		t.Fatalf("first event %v", trig)
	}
	for _, tc := range []struct {
		c             incident.Condition
		holding, mine bool
	}{
		{cond, true, true},
		{incident.Condition{Service: "chat", Objective: "error_rate_p99", Rule: "3d>1 and 6h>1"}, true, true},
		{incident.Condition{Service: "chat", Objective: "error_rate_p99", Rule: "no such rule"}, false, true},
		{incident.Condition{Service: "other", Objective: "error_rate_p99", Rule: cond.Rule}, false, false},
		{incident.Condition{Service: "chat", Objective: "ttft", Rule: cond.Rule}, false, false},
	} {
		if holding, mine := tr.Holding(tc.c); holding != tc.holding || mine != tc.mine {
			t.Errorf("Holding(%+v) = %v, %v; want %v, %v", tc.c, holding, mine, tc.holding, tc.mine)
		}
	}
	clk.Advance(96 * time.Hour)
	res := next()
	if res["event_action"] != "resolve" || res["dedup_key"] != trig["dedup_key"] {
		t.Errorf("second event %v, want the resolve of %v", res, trig["dedup_key"])
	}
	if holding, mine := tr.Holding(cond); holding || !mine {
		t.Errorf("Holding after the windows emptied = %v, %v", holding, mine)
	}
	select {
	case ev := <-events:
		t.Errorf("unexpected third event %v", ev)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestAlertRules(t *testing.T) {
	var got []string
	for _, r := range AlertRules() {
		got = append(got, r.Severity+" "+r.String())
	}
	want := []string{"page 1h>14.4 and 5m>14.4", "page 6h>6 and 30m>6", "ticket 3d>1 and 6h>1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("AlertRules = %q, want %q", got, want)
	}
	AlertRules()[0].Factor = 1
	if AlertRules()[0].Factor == 1 {
		t.Error("AlertRules shares its slice")
	}
}
