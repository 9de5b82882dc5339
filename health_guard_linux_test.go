package slo

import (
	"os"
	"testing"
	"time"

	"github.com/llmslo/slo/internal/testutil"
	"github.com/llmslo/slo/probes"
	"github.com/llmslo/slo/semconv"
	"github.com/prometheus/client_golang/prometheus"
)

// TestHealthRulesOverheadGuardPrivileged loads the syscall-latency probe
// in this process with an overhead budget no probe can meet, makes
// syscalls until the guard sheds it, and runs the llmslo-health rules over
// the live metrics recorded before and after (one scrape per simulated
// minute): LLMSLOProbeOverheadHigh fires once the guard has tripped, not
// before.
func TestHealthRulesOverheadGuardPrivileged(t *testing.T) {
	testutil.RequireBPF(t)
	promtool(t)
	reg := prometheus.NewRegistry()
	tr, err := New(WithRegisterer(reg), WithService("gw"), WithObjectives(ErrorRate(0.99)), WithErrorHandler(func(error) {}),
		WithProbes(probes.Config{Signals: []probes.Signal{probes.SyscallLatency}, KernelPath: probes.PathInProcess,
			OverheadBudget: 1e-9, OverheadInterval: 500 * time.Millisecond}),
		optionFunc(func(c *config) { c.evalInterval = 5 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	var st SignalStatus
	waitUntil(t, 30*time.Second, "the syscall-latency probe", func() bool {
		for _, s := range tr.KernelStatus() {
			if s.Signal == probes.SyscallLatency.String() {
				st = s
			}
		}
		return st.Path == semconv.PathInProcess || (st.Path != "starting" && st.State == "off")
	})
	if st.State == "off" {
		testutil.Skip(t, "syscall_latency did not load: "+st.Reason)
	}
	rec := &healthRecorder{reg: reg, series: map[string][]string{}}
	// Before the first trip: scrape as long as the counter is still zero.
	shed := func() int64 { return tr.Status().OverheadSheds }
	for range 5 {
		if shed() == 0 {
			rec.scrapeAfterEvaluation(t, tr)
		}
	}
	before := rec.n
	waitUntil(t, 30*time.Second, "the overhead guard to shed syscall_latency", func() bool {
		for range 1000 {
			_, _ = os.Getwd() // syscalls for the probe to measure
		}
		return shed() > 0
	})
	for range 5 {
		rec.scrapeAfterEvaluation(t, tr)
	}
	if before == 0 {
		t.Fatal("the guard tripped before the first scrape")
	}
	rules, err := PrometheusRules("gw", ErrorRate(0.99))
	if err != nil {
		t.Fatal(err)
	}
	promtoolHealthTest(t, rules, "gw", rec, []healthCheck{
		{at: before - 1},
		{at: rec.n - 1, firing: map[string][]map[string]string{
			"LLMSLOProbeOverheadHigh": {{"signal": probes.SyscallLatency.String()}},
		}},
	})
}
