package incident

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestOpsgenieCreateShapeAuthAndRetry(t *testing.T) {
	rc, srv := newReceiver(http.StatusAccepted, http.StatusServiceUnavailable, http.StatusBadGateway)
	defer srv.Close()
	s, err := NewOpsgenieSink("g3n1e", OpsgenieOptions{URL: srv.URL + "/", Delivery: Delivery{Attempts: 4, Backoff: time.Millisecond}})
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
	if _, err := NewOpsgenieSink("", OpsgenieOptions{}); err == nil {
		t.Error("empty key accepted")
	}
}

// TestOpsgenieClosesWhenConditionClears creates an alert, lets its
// condition clear on the monitor and expects the alert closed by its alias.
func TestOpsgenieClosesWhenConditionClears(t *testing.T) {
	rc, srv := newReceiver(http.StatusAccepted)
	defer srv.Close()
	s, err := NewOpsgenieSink("key", OpsgenieOptions{URL: srv.URL, Delivery: Delivery{Attempts: 2, Backoff: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	inc := testIncident()
	m := &fakeMonitor{holding: map[Condition]bool{inc.Condition(): true}}
	s.ResolveWith(m, 5*time.Millisecond)
	if err := s.Send(context.Background(), inc); err != nil {
		t.Fatal(err)
	}
	rc.wait(t, 1)
	m.set(inc.Condition(), false)
	reqs := rc.wait(t, 2)
	c := reqs[1]
	if c.Method != http.MethodPost || c.Path != "/v2/alerts/llmslo:chat:ttft_500ms_p99:1h>14.4 and 5m>14.4/close" ||
		c.Query != "identifierType=alias" || c.Header.Get("Authorization") != "GenieKey key" {
		t.Errorf("close request = %s %s ? %s (%v)", c.Method, c.Path, c.Query, c.Header)
	}
	var body map[string]string
	if err := json.Unmarshal(c.Body, &body); err != nil || body["source"] != "llmslo" {
		t.Errorf("close body = %s (%v)", c.Body, err)
	}
}
