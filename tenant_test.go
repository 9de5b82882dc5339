package slo

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmslo/slo/semconv"
)

// TestTenantObjectiveBurnsAlone narrows one error-rate objective to tenant
// A and the same objective to tenant B, the tenant read from a header by
// the WithTenant function. A's requests fail, B's succeed: A burns its
// budget and pages, the incident naming A; B's budget stays untouched and
// nothing is raised for it.
func TestTenantObjectiveBurnsAlone(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	sink := &captureSink{ch: make(chan struct{}, 8)}
	a, b := ErrorRate(0.99).ForTenant("A"), ErrorRate(0.99).ForTenant("B")
	tr, err := New(WithObjectives(a, b), WithIncidentSink(sink), withClock(clk.Now), WithService("chat"), ungated(), WithoutProbes(),
		WithTenant(func(r *http.Request) string { return r.Header.Get("X-Tenant") }))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if a.Name() != "error_rate_p99@A" || a.Tenant() != "A" {
		t.Fatalf("name %q tenant %q, want error_rate_p99@A and A", a.Name(), a.Tenant())
	}
	h := tr.Instrument(statusHandler)
	send := func(tenant, status string) {
		r := httptest.NewRequest(http.MethodGet, "/?s="+status, nil)
		r.Header.Set("X-Tenant", tenant)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	for range 50 {
		send("A", "500")
		send("B", "200")
		clk.Advance(time.Second)
	}
	inc := sink.first(t, 5*time.Second)
	if inc.Objective != a.Name() || inc.Tenant != "A" {
		t.Errorf("incident for objective %q tenant %q, want %q and A", inc.Objective, inc.Tenant, a.Name())
	}
	byName := map[string]BudgetStatus{}
	for _, s := range tr.Budget() {
		byName[s.Objective] = s
	}
	sa, sb := byName[a.Name()], byName[b.Name()]
	if sa.Tenant != "A" || sa.Total != 50 || sa.Good != 0 || sa.Remaining != 0 || math.Abs(sa.BurnRates[0].Rate-100) > 1e-9 { // (50/50)/(1 − 0.99)
		t.Errorf("A: tenant %q, %d/%d good, remaining %v, 5m burn %v; want A, 0/50, 0, 100", sa.Tenant, sa.Good, sa.Total, sa.Remaining, sa.BurnRates[0].Rate)
	}
	if sb.Tenant != "B" || sb.Total != 50 || sb.Good != 50 || sb.Remaining != 1 || sb.RemainingRaw != 1 || len(sb.Alerting) != 0 {
		t.Errorf("B: tenant %q, %d/%d good, remaining %v (raw %v), alerting %v; want B, 50/50, 1, untouched", sb.Tenant, sb.Good, sb.Total, sb.Remaining, sb.RemainingRaw, sb.Alerting)
	}
	for _, w := range sb.BurnRates {
		if w.Rate != 0 {
			t.Errorf("B: %s burn rate %v, want 0", w.Window, w.Rate)
		}
	}
	time.Sleep(200 * time.Millisecond) // an incident for B would have been delivered by now
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, inc := range sink.got {
		if inc.Tenant != "A" || !strings.HasSuffix(inc.Objective, "@A") {
			t.Errorf("incident %s for objective %q tenant %q; only A burns", inc.Severity, inc.Objective, inc.Tenant)
		}
	}
}

// TestRequestTenantOverrides checks that Request.Tenant, called by the
// handler, replaces what the WithTenant function named.
func TestRequestTenantOverrides(t *testing.T) {
	tr, err := New(WithObjectives(ErrorRate(0.99).ForTenant("gold")), WithoutProbes(),
		WithTenant(func(*http.Request) string { return "free" }))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	h := tr.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		RequestFrom(r.Context()).Tenant("gold")
		w.WriteHeader(http.StatusOK)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if got := tr.Budget()[0].Total; got != 1 {
		t.Errorf("the gold objective judged %d requests, want 1", got)
	}
}

// TestForTenantRejected checks New's errors for ForTenant() and an empty
// tenant.
func TestForTenantRejected(t *testing.T) {
	for _, o := range []Objective{ErrorRate(0.99).ForTenant(), ErrorRate(0.99).ForTenant("")} {
		if _, err := New(WithObjectives(o), WithoutProbes()); err == nil || !strings.Contains(err.Error(), "ForTenant") {
			t.Errorf("%s: error %v, want one naming ForTenant", o.call(), err)
		}
	}
}

// TestTenantFunctionPanics checks that a WithTenant function that panics
// leaves the request without a tenant, served and judged, and is reported
// once; the tenant otherwise reaches the span as llm.slo.tenant.
func TestTenantFunctionPanics(t *testing.T) {
	var reports []string
	h := newHarness(t, WithoutProbes(), WithObjectives(ErrorRate(0.99), ErrorRate(0.99).ForTenant("A")),
		WithErrorHandler(func(err error) { reports = append(reports, err.Error()) }),
		WithTenant(func(r *http.Request) string {
			if r.Header.Get("X-Tenant") == "" {
				panic("no tenant header")
			}
			return r.Header.Get("X-Tenant")
		}))
	in := h.t.Instrument(statusHandler)
	for range 2 {
		in.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}
	if len(reports) != 1 || !strings.Contains(reports[0], "WithTenant function panicked") {
		t.Errorf("reports %q, want one naming the WithTenant function", reports)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Tenant", "A")
	in.ServeHTTP(httptest.NewRecorder(), r)
	if v := h.lastSpanAttrs(t)[semconv.SLOTenant]; v.AsString() != "A" {
		t.Errorf("llm.slo.tenant = %q, want A", v.AsString())
	}
	b := h.t.Budget()
	if b[0].Total != 3 || b[1].Total != 1 {
		t.Errorf("judged %d (all) and %d (tenant A), want 3 and 1", b[0].Total, b[1].Total)
	}
}
