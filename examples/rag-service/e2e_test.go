package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmslo/slo/incident"
	dto "github.com/prometheus/client_model/go"
)

// TestEndToEnd is the reference service's main check: 100 streams through openai-go,
// TTFT/TPOT histograms and burn-rate gauges on /metrics, then a provider
// throttle fault and, within 5 s, an incident attributed to provider_throttle
// on the status JSON.
func TestEndToEnd(t *testing.T) {
	a := startTestApp(t)
	const n = 100
	streamMany(t, a, n, 10)
	// A stream's client may see [DONE] a moment before the handler returns
	// and the tracker records the request.
	waitRequests(t, a, n)

	mfs := scrape(t, a.URL())
	for _, name := range []string{"gen_ai_server_time_to_first_token_seconds", "gen_ai_server_time_per_output_token_seconds"} {
		mf := mfs[name]
		if mf == nil || mf.GetType() != dto.MetricType_HISTOGRAM {
			t.Fatalf("%s: missing or not a histogram", name)
		}
		var count uint64
		var sum float64
		for _, m := range mf.GetMetric() {
			count += m.GetHistogram().GetSampleCount()
			sum += m.GetHistogram().GetSampleSum()
			if got := label(m, "gen_ai_provider_name"); got != "llmslo_fake" {
				t.Errorf("%s: gen_ai_provider_name = %q, want llmslo_fake", name, got)
			}
		}
		if count != n {
			t.Errorf("%s: %d observations, want %d (one per stream)", name, count, n)
		}
		if mean := sum / float64(count); !(mean > 0 && mean < 2) {
			t.Errorf("%s: mean %.3fs is implausible", name, mean)
		}
		t.Logf("%s: %d observations, mean %.1f ms", name, count, 1000*sum/float64(count))
	}
	burn := mfs["llm_slo_burn_rate"]
	if burn == nil || burn.GetType() != dto.MetricType_GAUGE {
		t.Fatal("llm_slo_burn_rate: missing or not a gauge")
	}
	seen := map[string]bool{}
	for _, m := range burn.GetMetric() {
		seen[label(m, "objective")+"/"+label(m, "window")] = true
		if v := m.GetGauge().GetValue(); v < 0 {
			t.Errorf("burn rate %s/%s = %v < 0", label(m, "objective"), label(m, "window"), v)
		}
	}
	for _, o := range objectives() {
		for _, w := range burnWindows {
			if !seen[o.Name()+"/"+w] {
				t.Errorf("llm_slo_burn_rate{objective=%q,window=%q} missing", o.Name(), w)
			}
		}
	}
	judged := 0.0
	for _, m := range mfs["llm_slo_requests_total"].GetMetric() {
		if label(m, "objective") == "error_rate_p99.9" {
			judged += m.GetCounter().GetValue()
		}
	}
	// openai-go closes the stream as soon as it reads [DONE]; when that
	// hang-up reaches the server before the handler returns, the tracker
	// counts the request as abandoned by the client and does not judge it.
	if judged > n || judged < n-5 {
		t.Errorf("llm_slo_requests_total{objective=error_rate_p99.9} = %v, want %d (at least %d)", judged, n, n-5)
	}

	// Inject provider throttling; keep traffic going; poll the status JSON.
	resp, err := http.Post(a.URL()+"/api/fault", "application/json", strings.NewReader(`{"name":"provider_throttle"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/fault: %s: %s", resp.Status, body)
	}
	injected := time.Now()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	c := newLoadClient(a.URL())
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := i; ctx.Err() == nil; j++ {
				_, _ = askStream(ctx, c, questions[j%len(questions)]) // 429s expected
			}
		}()
	}
	defer func() { cancel(); wg.Wait() }()

	var firstAny time.Duration
	var last Status
	for time.Since(injected) < 5*time.Second {
		time.Sleep(200 * time.Millisecond)
		last = getStatus(t, a.URL())
		if len(last.Incidents) > 0 && firstAny == 0 {
			firstAny = time.Since(injected)
		}
		if i := slices.IndexFunc(last.Incidents, func(inc incident.Incident) bool { return inc.PredictedFaultDomain == "provider_throttle" }); i >= 0 {
			inc := last.Incidents[i]
			t.Logf("incident %s (%s, %s) attributed to provider_throttle %.1fs after injection, confidence %.2f",
				inc.ID, inc.Objective, inc.Severity, time.Since(injected).Seconds(), inc.Confidence)
			if last.Fault.Name != "provider_throttle" {
				t.Errorf("status fault = %q, want provider_throttle", last.Fault.Name)
			}
			return
		}
	}
	var got []string
	for _, inc := range last.Incidents {
		got = append(got, fmt.Sprintf("%s/%s→%s", inc.Objective, inc.Severity, inc.PredictedFaultDomain))
	}
	if firstAny == 0 {
		t.Fatalf("no incident within 5 s of injecting provider_throttle (tracker: %+v)", last.Tracker)
	}
	t.Fatalf("incidents raised (first after %.1fs) but none attributed to provider_throttle within 5 s: %v",
		firstAny.Seconds(), got)
}
