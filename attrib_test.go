package slo

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"

	"github.com/llmslo/slo/attribution"
	"github.com/llmslo/slo/semconv"
)

func TestAttributionModelDefault(t *testing.T) {
	tr, err := New(WithoutProbes())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	def := attribution.DefaultModel()
	if tr.attr.model == nil || def == nil || tr.attr.model.Provenance != def.Provenance {
		t.Fatalf("default tracker model = %+v, want the embedded one", tr.attr.model)
	}
	custom, err := attribution.UnmarshalModel([]byte(`{"version":1,"provenance":{"command":"custom"},"prior":{"network_dns":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	tr2, err := New(WithoutProbes(), WithAttributionModel(custom), WithAttributionModel(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer tr2.Close()
	if tr2.attr.model != custom {
		t.Errorf("WithAttributionModel did not override the default: %+v", tr2.attr.model.Provenance)
	}
}

// TestTrackerObservation checks that the tracker builds a request's
// evidence with attribution.NewObservation, reading a running probe's
// silence as 0 — what the incident lab evaluates.
func TestTrackerObservation(t *testing.T) {
	tr, err := New(WithoutProbes())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	s := &sli{slis: slis{e2e: time.Second}, failed: true, calls: callSummary{Calls: 1, Throttled: 1, Timeouts: 1,
		DNS: 100 * time.Millisecond, Connect: 20 * time.Millisecond, TLS: 10 * time.Millisecond,
		ProviderTTFB: 400 * time.Millisecond, ProviderWait: 700 * time.Millisecond}}
	kattrs := []attribute.KeyValue{semconv.EBPFSchedRunqueueDelayMs.Float64(30)}
	features := func(o attribution.Observation) map[string]float64 {
		out := map[string]float64{}
		for _, f := range attribution.AllFeatures() {
			if v, ok := o.Get(f); ok {
				out[f.String()] = v
			}
		}
		return out
	}
	app := map[string]float64{"app.dns_ms": 100, "app.connect_ms": 30, "app.throttled": 1, "app.server_errors": 0,
		"app.resets": 1, "app.provider_ttfb_ms": 270, "app.provider_wait_ms": 570, "app.local_ms": 300}

	// Probes off: only what the request carries.
	want := map[string]float64{"kernel.runqueue_ms": 30}
	for k, v := range app {
		want[k] = v
	}
	got := tr.observation(s, kattrs)
	if diff := cmp.Diff(want, features(got)); diff != "" {
		t.Errorf("probes off (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff(attribution.NewObservation(1000, true, attribution.Calls{N: 1, Throttled: 1, Resets: 1,
		DNSMs: 100, ConnectMs: 30, ProviderTTFBMs: 400, ProviderWaitMs: 700}, kattrs, 0), got); diff != "" {
		t.Errorf("not NewObservation's (-want +got)\n%s", diff)
	}

	// dns_latency and mem_reclaim running (as KernelStatus would say): the
	// request saw neither, so both are 0.
	tr.attr.probed.Store(uint32(attribution.ProbedFeatures("dns_latency", "mem_reclaim")))
	tr.attr.probedAt.Store(time.Now().UnixNano())
	want["kernel.dns_ms"], want["kernel.reclaim_ms"] = 0, 0
	if diff := cmp.Diff(want, features(tr.observation(s, kattrs))); diff != "" {
		t.Errorf("probes running (-want +got)\n%s", diff)
	}
	// Stale: re-read from KernelStatus (probes off here: nothing probed).
	tr.attr.probedAt.Store(time.Now().Add(-2 * probedTTL).UnixNano())
	if got := tr.probedFeatures(); got != 0 {
		t.Errorf("probed without probes = %b", got)
	}
}
