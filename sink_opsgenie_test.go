package slo

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func TestOpsgenieCreateShapeAuthAndRetry(t *testing.T) {
	rc, srv := newReceiver(http.StatusAccepted, http.StatusServiceUnavailable, http.StatusBadGateway)
	defer srv.Close()
	s, err := NewOpsgenieSink("g3n1e", OpsgenieURL(srv.URL+"/"), OpsgenieRetries(4, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	inc := testIncident()
	inc.Objective = strings.Repeat("o", 200) // the message must be cut to 130 characters
	if err := s.Send(context.Background(), inc); err != nil {
		t.Fatal(err)
	}
	reqs := rc.wait(t, 3)
	for i, r := range reqs {
		if got := r.Header.Get("Authorization"); got != "GenieKey g3n1e" {
			t.Errorf("attempt %d: Authorization = %q", i, got)
		}
		if r.Method != http.MethodPost || r.Path != "/v2/alerts" {
			t.Errorf("attempt %d: %s %s", i, r.Method, r.Path)
		}
		if string(r.Body) != string(reqs[0].Body) {
			t.Errorf("attempt %d sent another body", i)
		}
	}
	var got ogAlert
	if err := json.Unmarshal(reqs[2].Body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Message) != 130 {
		t.Errorf("message has %d bytes, want 130", len(got.Message))
	}
	want := ogAlert{
		Message:  got.Message,
		Alias:    "llmslo:chat:" + inc.Objective + ":1h>14.4 and 5m>14.4",
		Tags:     []string{"llmslo", "page", "network_dns"},
		Entity:   "chat",
		Source:   "llmslo",
		Priority: "P1",
		Details: map[string]string{
			"incident_id": "inc-1", "objective": inc.Objective, "rule": "1h>14.4 and 5m>14.4", "severity": "page",
			"predicted_fault_domain": "network_dns", "confidence": "0.930", "burn_rate": "20.00", "sli": "ttft_ms",
			"trace_ids": "4bf92f3577b34da6a3ce929d0e0e4736",
		},
		Description: got.Description,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("alert (-want +got):\n%s", d)
	}
	for _, s := range []string{"network_dns: 0.930 (kernel.dns_ms)", "kernel.dns_ms = 412 (ebpf)"} {
		if !strings.Contains(got.Description, s) {
			t.Errorf("description lacks %q:\n%s", s, got.Description)
		}
	}
}

func TestOpsgenieRejectsEmptyKey(t *testing.T) {
	if _, err := NewOpsgenieSink(""); err == nil {
		t.Error("empty key accepted")
	}
}

// TestOpsgenieClosesWhenConditionClears drives a tracker into a page and out
// of it and expects the alert to be created, then closed by its alias.
func TestOpsgenieClosesWhenConditionClears(t *testing.T) {
	rc, srv := newReceiver(http.StatusAccepted)
	defer srv.Close()
	s, err := NewOpsgenieSink("key", OpsgenieURL(srv.URL), OpsgenieRetries(2, time.Millisecond))
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
	rc.wait(t, 1)
	clk.Advance(96 * time.Hour)
	reqs := rc.wait(t, 2)
	c := reqs[1]
	if c.Method != http.MethodPost || c.Path != "/v2/alerts/llmslo:chat:error_rate_p99:1h>14.4 and 5m>14.4/close" ||
		c.Query != "identifierType=alias" || c.Header.Get("Authorization") != "GenieKey key" {
		t.Errorf("close request = %s %s ? %s (%v)", c.Method, c.Path, c.Query, c.Header)
	}
	var body map[string]string
	if err := json.Unmarshal(c.Body, &body); err != nil || body["source"] != "llmslo" {
		t.Errorf("close body = %s (%v)", c.Body, err)
	}
}

func ExampleNewOpsgenieSink() {
	og, err := NewOpsgenieSink("YOUR_API_INTEGRATION_KEY", OpsgenieURL("https://api.eu.opsgenie.com"))
	if err != nil {
		panic(err)
	}
	t, err := New(WithObjectives(TTFT(500*time.Millisecond, 0.99)), WithIncidentSink(og))
	if err != nil {
		panic(err)
	}
	defer t.Close()      // closes og too
	og.ResolveWith(t, 0) // close the alert when the burn-rate condition clears
}
