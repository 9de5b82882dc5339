package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/llmslo/slo"
	"github.com/llmslo/slo/incident"
)

// wideStatus is a status page's content at its widest in practice: every
// objective alerting, and five incidents of the longest domain, rule and
// three pieces of evidence with the longest names.
func wideStatus() Status {
	p := func(v float64) *float64 { return &v }
	now := time.Date(2026, 11, 27, 14, 3, 7, 0, time.UTC)
	s := Status{Service: serviceName, Version: slo.Version(), Now: now, Uptime: 86399,
		Upstream:  upstream{Kind: "openai", BaseURL: "https://api.openai.com/v1", Model: "gpt-4o-mini-2024-07-18", Provider: "openai"},
		Retrieval: map[string]any{"url": "http://127.0.0.1:40000", "documents": 32, "top_k": 3},
		Latency: LatencyStatus{WindowSeconds: 60, TTFT: Percentiles{Count: 12345, P50: p(1234.5), P90: p(2345.6), P99: p(9876.5)},
			TPOT: Percentiles{Count: 12345, P50: p(45.6), P90: p(78.9), P99: p(123.4)}, E2E: Percentiles{Count: 23456, P50: p(4567.8), P90: p(7890.1), P99: p(19999.9)}},
		Probes: ProbeStatus{State: "partial", Detail: "7 of 11 kernel signals on; see the reasons below", Signals: []slo.SignalStatus{}},
		Load:   loadSnapshot{Rate: 12.5, Sent: 123456, OK: 120000, Failed: 3456},
		Fault:  activeFault{Name: "provider_throttle", Since: now.Add(-time.Minute), Plan: "429 with Retry-After: 1 on 80% of requests"},
	}
	for _, o := range objectives() {
		s.Objs = append(s.Objs, ObjectiveStatus{Name: o.Name(), Target: o.Target(), Good: 123456, Total: 234567, BudgetRemaining: -1234.5,
			BurnRates: map[string]float64{"5m": 1234.5, "30m": 1234.5, "1h": 999.99, "6h": 99.99, "1d": 88.88, "3d": 77.77},
			Alerting:  []string{"1h>14.4 and 5m>14.4", "6h>6 and 30m>6", "3d>1 and 6h>1"}})
	}
	for i := range 5 {
		s.Incidents = append(s.Incidents, incident.Incident{ID: "inc", Time: now.Add(-time.Duration(i) * time.Hour), Service: serviceName,
			Objective: "error_rate_p99.9", Severity: incident.SeverityTicket, Rule: "1h>14.4 and 5m>14.4",
			PredictedFaultDomain: "retrieval_backend", Confidence: 0.9876,
			Impact: incident.Impact{SLI: "error_rate", BurnRate: 1234.5, WindowMinutes: 60},
			Evidence: []incident.Evidence{{Signal: "kernel.cfs_throttled_ms", Value: 1234.5678, Source: "ebpf"},
				{Signal: "app.provider_ttfb_ms", Value: 2345.678, Source: "app"}, {Signal: "kernel.connect_errors", Value: 12.345, Source: "ebpf"}},
			TraceIDs: []string{"98d49303c66a03f518470d79514fd53d", "d632fa7e8841c97a22750aae739f54fe", "c907d47363a2a7b5724408d08ab6a659"}})
	}
	return s
}

// layoutProbe, appended to the page, writes what the browser laid out into
// the DOM: the document's and every section's scroll and client widths.
const layoutProbe = `<script>(function(){var r={doc:[document.documentElement.scrollWidth,document.documentElement.clientWidth],sections:[]};
document.querySelectorAll("section").forEach(function(s){var h=s.querySelector("h2");r.sections.push([h?h.textContent:"",s.scrollWidth,s.clientWidth])});
var p=document.createElement("pre");p.id="layout";p.hidden=true;p.textContent=JSON.stringify(r);document.body.appendChild(p)})();</script>`

// layout is what layoutProbe measured.
type layout struct {
	Doc      [2]int               `json:"doc"`
	Sections [][3]json.RawMessage `json:"sections"`
}

// TestStatusPageFits1280 lays the status page out in headless Chromium at
// 1280×900 with its widest content and checks that nothing overflows: the
// document and every section, the incident table's included, are no wider
// than the window (scrollWidth ≤ clientWidth). It saves a screenshot.
func TestStatusPageFits1280(t *testing.T) {
	bin := chromium(t)
	var page bytes.Buffer
	if err := pageTmpl.Execute(&page, wideStatus()); err != nil {
		t.Fatal(err)
	}
	html := strings.Replace(page.String(), "</body>", layoutProbe+"</body>", 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(html))
	}))
	defer srv.Close()

	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,900"}
	dom, err := exec.CommandContext(t.Context(), bin, append(flags, "--user-data-dir="+t.TempDir(), "--dump-dom", srv.URL+"/")...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	m := regexp.MustCompile(`<pre id="layout"[^>]*>([^<]*)</pre>`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the page did not report its layout:\n%.2000s", dom)
	}
	var got layout
	if err := json.Unmarshal(bytes.ReplaceAll(m[1], []byte("&quot;"), []byte(`"`)), &got); err != nil {
		t.Fatalf("layout %s: %v", m[1], err)
	}
	t.Logf("document: scrollWidth %d, clientWidth %d", got.Doc[0], got.Doc[1])
	// The window is 1280 px; the document's client width is that less a
	// vertical scroll bar.
	if got.Doc[1] < 1240 || got.Doc[1] > 1280 || got.Doc[0] > got.Doc[1] {
		t.Errorf("document %d px wide in a %d px client width (window 1280 px)", got.Doc[0], got.Doc[1])
	}
	for _, s := range got.Sections {
		var title string
		var scroll, client int
		_ = json.Unmarshal(s[0], &title)
		_ = json.Unmarshal(s[1], &scroll)
		_ = json.Unmarshal(s[2], &client)
		t.Logf("section %q: scrollWidth %d, clientWidth %d", title, scroll, client)
		if scroll > client {
			t.Errorf("section %q overflows: %d px of content in %d px", title, scroll, client)
		}
	}

	shot := filepath.Join(artifactDir(t), "rag-service-status-1280.png")
	if out, err := exec.CommandContext(t.Context(), bin, append(flags, "--user-data-dir="+t.TempDir(), "--screenshot="+shot, srv.URL+"/")...).CombinedOutput(); err != nil {
		t.Errorf("chromium --screenshot: %v\n%s", err, out)
	}
	t.Logf("screenshot: %s", shot)
}

// TestPageExplainsTTFTBurn: the page says why a TTFT objective can burn
// while the TTFT percentiles look healthy — failed requests count as bad.
func TestPageExplainsTTFTBurn(t *testing.T) {
	var page bytes.Buffer
	if err := pageTmpl.Execute(&page, wideStatus()); err != nil {
		t.Fatal(err)
	}
	const want = "A TTFT objective counts a request that failed before its first token (429, 5xx, a stream error) as bad"
	if !strings.Contains(page.String(), want) {
		t.Errorf("the page does not explain a TTFT burn beside a healthy TTFT p99 (%q)", want)
	}
}
