package slo

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmslo/slo/incident"
)

func TestRequestIDSanitised(t *testing.T) {
	long := strings.Repeat("a", 200)
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"9b2c1c0e-6a0f-4d3e-9a8e-1f6c2b3d4e5f", "9b2c1c0e-6a0f-4d3e-9a8e-1f6c2b3d4e5f"},
		{"req_01:abc/def+g=h@i.j", "req_01:abc/def+g=h@i.j"},
		{long, long[:128]},
		{"<script>alert(1)</script>", "_script_alert_1__/script_"},
		{"id\r\nX-Injected: 1", "id__X-Injected:_1"},
		{"café", "caf__"},
		{"\xff\xfe", "__"},
	} {
		if got := requestID(tc.in); got != tc.want {
			t.Errorf("requestID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { requestID("9b2c1c0e-6a0f-4d3e-9a8e-1f6c2b3d4e5f") }); n != 0 {
		t.Errorf("%v allocations for a clean id", n)
	}
}

// pdMaxEvent is the largest event PagerDuty's Events API v2 accepts.
const pdMaxEvent = 512 * 1024

// TestHugeRequestIDsStayOutOfPagers: three requests with 200 KiB ids fail
// and page; the PagerDuty, Opsgenie and webhook bodies stay far under
// PagerDuty's 512 KB limit and carry the ids cut to 128 bytes.
func TestHugeRequestIDsStayOutOfPagers(t *testing.T) {
	var mu sync.Mutex
	bodies := map[string][]string{}
	receiver := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies[name] = append(bodies[name], string(b))
			mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
		}))
	}
	pd, og, wh := receiver("pagerduty"), receiver("opsgenie"), receiver("webhook")
	defer pd.Close()
	defer og.Close()
	defer wh.Close()
	pdSink, err := incident.NewPagerDutySink("key", incident.PagerDutyOptions{URL: pd.URL})
	if err != nil {
		t.Fatal(err)
	}
	ogSink, err := incident.NewOpsgenieSink("key", incident.OpsgenieOptions{URL: og.URL})
	if err != nil {
		t.Fatal(err)
	}
	whSink, err := incident.NewWebhookSink(wh.URL, incident.WebhookOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	capture := &captureSink{ch: make(chan struct{}, 8)}
	tr, err := New(WithoutProbes(), WithMinCoverage(0), WithMinEvents(1), WithObjectives(ErrorRate(0.99)), withClock(clk.Now),
		WithIncidentSink(pdSink, ogSink, whSink, capture))
	if err != nil {
		t.Fatal(err)
	}
	h := tr.Instrument(statusHandler)
	// 40 good requests, then the 3 bad ones: a ticket from the first (a bad
	// share over the 1 % budget: 1 of 41), the page rule "6h>6 and 30m>6"
	// from the third (3 of 43, over 6 %), so the page names all three.
	for range 40 {
		serve(h, "200")
	}
	ids := []string{strings.Repeat("A", 200<<10), strings.Repeat("B", 200<<10), strings.Repeat("<", 200<<10)}
	for _, id := range ids {
		req := httptest.NewRequest("GET", "/?s=500", nil)
		req.Header.Set("X-Request-Id", id)
		h.ServeHTTP(httptest.NewRecorder(), req)
		clk.Advance(time.Second)
	}
	for capture.count() < 2 {
		select {
		case <-capture.ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d incidents, want a ticket and a page", capture.count())
		}
	}
	if err := tr.Close(); err != nil { // delivers what the sinks queued
		t.Fatal(err)
	}
	capture.mu.Lock()
	page := capture.got[1]
	capture.mu.Unlock()
	if page.Severity != incident.SeverityPage {
		t.Fatalf("second incident: %s, want a page", page.Severity)
	}
	got := page.RequestIDs
	want := []string{strings.Repeat("_", 128), strings.Repeat("B", 128), strings.Repeat("A", 128)}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("incident request ids: %d ids of %v bytes, want the three cut to 128 bytes", len(got), idLens(got))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"pagerduty", "opsgenie", "webhook"} {
		if len(bodies[name]) != 2 {
			t.Errorf("%s: %d events delivered, want 2", name, len(bodies[name]))
		}
		for _, b := range bodies[name] {
			t.Logf("%s event: %d bytes", name, len(b))
			if len(b) >= pdMaxEvent {
				t.Errorf("%s event is %d bytes, over PagerDuty's %d", name, len(b), pdMaxEvent)
			}
			if strings.Contains(b, strings.Repeat("A", 129)) || strings.Contains(b, "<<") || strings.Contains(b, `\u003c\u003c`) {
				t.Errorf("%s event carries an id uncut or unsanitised", name)
			}
		}
	}
}

func idLens(ids []string) []int {
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = len(id)
	}
	return out
}
