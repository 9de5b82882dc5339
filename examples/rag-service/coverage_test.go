package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStatusCoverage runs the service with the tracker's default alert gate:
// a fault injected seconds after start raises no incident; /api/status
// shows the windows' coverage (a few seconds of each: falling with the
// window's length), the origin "cold", every objective's rules waiting for
// coverage, and the error budget of error_rate_p99.9 exhausted and clamped
// at 0 with the raw figure beside it; the page shows the same.
func TestStatusCoverage(t *testing.T) {
	env := func(string) string { return "" }
	a, err := startApp(t.Context(), config{Addr: "127.0.0.1:0", Env: env})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	streamMany(t, a, 20, 5)
	if err := a.injectFault(t.Context(), "provider_error"); err != nil {
		t.Fatal(err)
	}
	c := newLoadClient(a.URL())
	for i := range 15 {
		_, _ = askStream(t.Context(), c, questions[i%len(questions)]) // 503s expected
	}
	time.Sleep(1200 * time.Millisecond) // an evaluation tick
	s := getStatus(t, a.URL())
	if len(s.Incidents) != 0 {
		t.Errorf("%d incidents from a service seconds old", len(s.Incidents))
	}
	for _, o := range s.Objs {
		if o.Origin != "cold" {
			t.Errorf("%s: origin %q, want cold", o.Name, o.Origin)
		}
		prev := 1.0
		for _, w := range burnWindows {
			c, ok := o.Coverage[w]
			if !ok || !(c > 0 && c < prev) {
				t.Errorf("%s: coverage of %s = %v (ok %v), want in (0, %v)", o.Name, w, c, ok, prev)
			}
			prev = c
		}
		if o.Total > 0 && len(o.Waiting) != 3 {
			t.Errorf("%s: waiting %q, want its three rules", o.Name, o.Waiting)
		}
		if o.Name == "error_rate_p99.9" && (!o.BudgetExhausted || o.BudgetRemaining != 0 || o.BudgetRemainingRaw >= 0) {
			t.Errorf("%s: budget %v (raw %v, exhausted %v), want 0, negative, true", o.Name, o.BudgetRemaining, o.BudgetRemainingRaw, o.BudgetExhausted)
		}
		t.Logf("%s: %d/%d good, coverage 5m %.3f 3d %.6f, budget %v (raw %.1f), waiting %q", o.Name, o.Good, o.Total,
			o.Coverage["5m"], o.Coverage["3d"], o.BudgetRemaining, o.BudgetRemainingRaw, o.Waiting)
	}
	resp, err := http.Get(a.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{">cold<", "% seen", "exhausted", "raw -", "waiting · 1h&gt;14.4 and 5m&gt;14.4: 1h window"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if strings.Contains(string(html), "NaN") {
		t.Error("status page shows NaN")
	}
}
