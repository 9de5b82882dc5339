package lab

import (
	"testing"

	"github.com/llmslo/slo/attribution"
)

func TestWatched(t *testing.T) {
	for _, tc := range []struct {
		status string
		want   []attribution.Feature
	}{
		{"", nil},
		{"cfs_throttle=floor/on cpu_steal=floor/on psi=floor/on", []attribution.Feature{attribution.KernCFSThrottledMs, attribution.KernStealPct}},
		{"runqueue_delay=in_process/on dns_latency=in_process/degraded", []attribution.Feature{attribution.KernDNSMs, attribution.KernRunqueueMs}},
		// httptrace stand-in, probes off, a sidecar, garbage: not watching.
		{"dns_latency=floor/off cfs_throttle=off/off tcp_retransmit=sidecar/on mem_reclaim=starting/off nonsense=in_process/on x y=z", nil},
	} {
		got := watched(tc.status)
		var want attribution.FeatureSet
		for _, f := range tc.want {
			want = want.With(f)
		}
		if got != want {
			t.Errorf("watched(%q) = %b, want %b", tc.status, got, want)
		}
	}
}

// TestEvidenceReadsWatchedAsZero: a sample lacking the feature of a probe
// the run watched with is scored with it as 0, one the run did not watch
// stays missing, and the record itself is left as it was.
func TestEvidenceReadsWatchedAsZero(t *testing.T) {
	var o attribution.Observation
	o.Set(attribution.KernRunqueueMs, 120)
	res := &RunResult{Kernel: "cfs_throttle=floor/on runqueue_delay=in_process/on", Samples: []Sample{{Obs: o}}}
	r := &runEval{res: res, watched: watched(res.Kernel)}
	got := r.evidence(0, Arms[2])
	if v, ok := got.Get(attribution.KernCFSThrottledMs); !ok || v != 0 {
		t.Errorf("CFS throttled time = %v, %v; want an observed 0", v, ok)
	}
	if v, _ := got.Get(attribution.KernRunqueueMs); v != 120 {
		t.Errorf("run-queue delay = %v, want 120", v)
	}
	if got.Has(attribution.KernStealPct) || res.Samples[0].Obs.Has(attribution.KernCFSThrottledMs) {
		t.Errorf("steal (not watched) observed, or the record changed: %+v", res.Samples[0].Obs)
	}
	if app := r.evidence(0, Arms[0]); app.Has(attribution.KernCFSThrottledMs) {
		t.Error("the application arm got a kernel feature")
	}
}
