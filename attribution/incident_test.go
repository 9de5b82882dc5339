package attribution

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/llmslo/slo/correlate"
	"github.com/llmslo/slo/probes"
)

// toyModel is small enough to compute by hand: three domains and two
// features with bins 0 | (0,100] | >100. CPU throttling looks like
// contention in the run queue and also slows retrieval a little, the
// retrieval backend only in retrieval.
func toyModel(t *testing.T) *Model {
	t.Helper()
	m, err := UnmarshalModel([]byte(`{"version":1,
		"bins":{"kernel.runqueue_ms":{"edges":[100]},"app.retrieval_ms":{"edges":[100]}},
		"prior":{"cpu_contention":0.7,"cpu_throttle":0.15,"retrieval_backend":0.15},
		"likelihood":{
			"cpu_contention":   {"kernel.runqueue_ms":[0.1,0.1,0.8],"app.retrieval_ms":[0.8,0.1,0.1]},
			"cpu_throttle":     {"kernel.runqueue_ms":[0.1,0.2,0.7],"app.retrieval_ms":[0.6,0.1,0.3]},
			"retrieval_backend":{"kernel.runqueue_ms":[0.8,0.1,0.1],"app.retrieval_ms":[0.1,0.1,0.8]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type ranked struct {
	D Domain
	P float64
}

func rankOf(v Verdict) []ranked {
	var out []ranked
	for _, h := range v.Ranked {
		out = append(out, ranked{h.Domain, h.Posterior})
	}
	return out
}

// TestAttributeIncident checks the explaining-away ranking against values
// computed by hand (see AttributeIncident for the model).
func TestAttributeIncident(t *testing.T) {
	m := toyModel(t)
	both := obs(900, KernRunqueueMs, 200, AppRetrievalMs, 200) // slow run queue and slow retrieval
	cpu := obs(900, KernRunqueueMs, 200, AppRetrievalMs, 0)    // slow run queue only
	// Single-cause posteriors of `both`: contention 0.7·0.8·0.1 = 0.056,
	// throttle 0.15·0.7·0.3 = 0.0315, retrieval 0.15·0.1·0.8 = 0.012;
	// contention 0.056/0.0995 = 112/199.
	//
	// Explaining away, given contention (other priors sum to 0.3):
	//   alone:      0.5            · 0.8            · 0.1            = 0.04
	//   +throttle:  0.5·0.15/0.3   · ½(0.8+0.7)     · ½(0.1+0.3)     = 0.0375
	//   +retrieval: 0.5·0.15/0.3   · ½(0.8+0.1)     · ½(0.1+0.8)     = 0.050625
	// sum 0.128125: retrieval 81/205, throttle 60/205 (alone 64/205).
	//
	// `cpu` (single-cause: contention 0.7·0.8·0.8 = 0.448, throttle
	// 0.15·0.7·0.6 = 0.063, retrieval 0.15·0.1·0.1 = 0.0015; 448/512.5):
	//   alone 0.5·0.8·0.8 = 0.32; +throttle 0.25·0.75·0.7 = 0.13125;
	//   +retrieval 0.25·0.45·0.45 = 0.050625; sum 0.501875:
	//   throttle 0.13125/0.501875 = 84/321.2, retrieval 0.050625/0.501875 = 32.4/321.2.
	for _, tc := range []struct {
		name string
		obs  []Observation
		want []ranked
	}{
		{"two causes: retrieval is the runner-up", []Observation{both, both},
			[]ranked{{CPUContention, 112.0 / 199}, {RetrievalBackend, 81.0 / 205}, {CPUThrottle, 60.0 / 205}}},
		{"one cause: runner-ups stay unlikely", []Observation{cpu},
			[]ranked{{CPUContention, 448 / 512.5}, {CPUThrottle, 84 / 321.2}, {RetrievalBackend, 32.4 / 321.2}}},
		{"runner-ups are means over the requests", []Observation{both, cpu},
			[]ranked{{CPUContention, (112.0/199 + 448/512.5) / 2}, {CPUThrottle, (60.0/205 + 84/321.2) / 2}, {RetrievalBackend, (81.0/205 + 32.4/321.2) / 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := AttributeIncident(tc.obs, m)
			if v.Top != CPUContention || math.Abs(v.Confidence-tc.want[0].P) > 1e-12 {
				t.Errorf("top %v %v, want %v", v.Top, v.Confidence, tc.want[0])
			}
			if diff := cmp.Diff(tc.want, rankOf(v), cmpopts.EquateApprox(0, 1e-12)); diff != "" {
				t.Errorf("ranking (-want +got)\n%s", diff)
			}
		})
	}
	// The mean of single-cause posteriors ranks throttle second: the
	// ranking explaining away replaces.
	if agg := Aggregate([]Verdict{Attribute(both, m)}); agg.Ranked[1].Domain != CPUThrottle {
		t.Errorf("Aggregate runner-up = %v, want cpu_throttle", agg.Ranked[1].Domain)
	}
}

func TestAttributeIncidentFallsBackToAggregate(t *testing.T) {
	a := obs(400, KernDNSMs, 400)
	b := obs(400, AppThrottled, 1)
	want := Aggregate([]Verdict{Attribute(a, nil), Attribute(b, nil)})
	if diff := cmp.Diff(want, AttributeIncident([]Observation{a, b}, nil)); diff != "" {
		t.Errorf("without a model (-Aggregate +got)\n%s", diff)
	}
	if v := AttributeIncident(nil, toyModel(t)); v.Top != Unknown {
		t.Errorf("no requests: %+v", v)
	}
	// Abstain: nothing observed leaves the prior, contention 0.4 < 0.5. The
	// runner-ups given contention are the prior of the pairs: alone 0.5,
	// throttle and retrieval 0.5·0.3/0.6 = 0.25 each.
	m2, err := UnmarshalModel([]byte(`{"version":1,"prior":{"cpu_contention":0.4,"cpu_throttle":0.3,"retrieval_backend":0.3}}`))
	if err != nil {
		t.Fatal(err)
	}
	v := AttributeIncident([]Observation{obs(100)}, m2)
	if v.Top != Unknown || math.Abs(v.Confidence-0.6) > 1e-12 {
		t.Errorf("abstaining verdict %v %v", v.Top, v.Confidence)
	}
	wantR := []ranked{{CPUContention, 0.4}, {CPUThrottle, 0.25}, {RetrievalBackend, 0.25}}
	if diff := cmp.Diff(wantR, rankOf(v), cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Errorf("abstaining ranking (-want +got)\n%s", diff)
	}
	// With Unknown in the model it is listed first when abstaining.
	m3, err := UnmarshalModel([]byte(`{"version":1,"prior":{"unknown":0.45,"cpu_contention":0.35,"retrieval_backend":0.2}}`))
	if err != nil {
		t.Fatal(err)
	}
	// Runner-ups given contention: others 0.65; unknown 0.5·0.45/0.65, retrieval 0.5·0.2/0.65.
	wantR = []ranked{{Unknown, 0.45}, {CPUContention, 0.35}, {RetrievalBackend, 0.1 / 0.65}}
	if diff := cmp.Diff(wantR, rankOf(AttributeIncident([]Observation{obs(100)}, m3)), cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Errorf("abstaining with unknown (-want +got)\n%s", diff)
	}
}

func TestNewObservation(t *testing.T) {
	ms := time.Millisecond
	calls := Calls{N: 2, Retrieval: 1, Throttled: 1, DNS: 200 * ms, Connect: 20 * ms, TLS: 10 * ms,
		ProviderTTFB: 700 * ms, ProviderWait: 900 * ms, RetrievalWait: 15 * ms}
	joined := func(k correlate.Summary) correlate.Summary {
		k.Joins[correlate.TierExact], k.Tier, k.Confidence = 1, correlate.TierExact, 1
		return k
	}
	kernel := joined(correlate.Summary{DNS: 190 * ms, DNSLookups: 1, Runqueue: 12 * ms})
	runqueueOnly := joined(correlate.Summary{Runqueue: 12 * ms})
	everything := joined(correlate.Summary{DNS: 5 * ms, DNSLookups: 2, Retransmits: 3, Connects: 2,
		ConnectLatency: 40 * ms, ConnectErrors: 1, Runqueue: 12 * ms, CFSThrottled: 6 * ms, Reclaim: 7 * ms,
		StealPct: 2.5, BlockIO: 9 * ms, GoSchedLatency: ms})
	probed := ProbedFeatures(probes.DNSLatency, probes.RunqueueDelay, probes.MemReclaim, probes.BlockIO)
	app := map[Feature]float64{AppDNSMs: 200, AppConnectMs: 30, AppThrottled: 1, AppServerErrors: 0, AppResets: 0,
		AppProviderTTFBMs: 470, AppProviderWaitMs: 670, // net of 200 ms DNS + 30 ms connect and TLS
		AppRetrievalMs: 15, AppLocalMs: 85} // 1000 − 900 − 15
	with := func(m map[Feature]float64, kv ...any) map[Feature]float64 {
		out := map[Feature]float64{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			switch v := kv[i+1].(type) {
			case int:
				out[kv[i].(Feature)] = float64(v)
			case float64:
				out[kv[i].(Feature)] = v
			}
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		calls  Calls
		kernel correlate.Summary
		probed FeatureSet
		want   map[Feature]float64
	}{
		{"no calls, no probes: nothing observed", Calls{}, correlate.Summary{}, 0, map[Feature]float64{}},
		{"calls only", calls, correlate.Summary{}, 0, app},
		{"kernel evidence, no probe running", calls, kernel, 0,
			with(app, KernDNSMs, 190, KernConnectMs, 20, KernRunqueueMs, 12)},
		{"a running probe that saw nothing observes 0", calls, kernel, probed,
			with(app, KernDNSMs, 190, KernConnectMs, 20, KernRunqueueMs, 12, KernReclaimMs, 0)},
		{"httptrace stands in for the DNS and connects the kernel did not join", calls, runqueueOnly, 0,
			with(app, KernDNSMs, 200, KernConnectMs, 20, KernRunqueueMs, 12)},
		{"without kernel evidence httptrace is not kernel evidence", calls, correlate.Summary{}, probed,
			with(app, KernDNSMs, 0, KernRunqueueMs, 0, KernReclaimMs, 0)},
		{"every kernel feature", Calls{}, everything, 0, map[Feature]float64{KernDNSMs: 5, KernRetransmits: 3,
			KernConnectMs: 40, KernConnectErrors: 1, KernRunqueueMs: 12, KernCFSThrottledMs: 6, KernReclaimMs: 7,
			KernStealPct: 2.5}},
		{"provider time never negative", Calls{N: 1, DNS: 500 * ms, ProviderTTFB: 450 * ms, ProviderWait: 480 * ms},
			correlate.Summary{}, 0, map[Feature]float64{AppDNSMs: 500, AppConnectMs: 0, AppThrottled: 0,
				AppServerErrors: 0, AppResets: 0, AppProviderTTFBMs: 0, AppProviderWaitMs: 0, AppLocalMs: 520}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := NewObservation(time.Second, true, tc.calls, tc.kernel, tc.probed)
			got := map[Feature]float64{}
			for _, f := range AllFeatures() {
				if v, ok := o.Get(f); ok {
					got[f] = v
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			if o.E2EMs != 1000 || !o.Failed {
				t.Errorf("e2e %v failed %v", o.E2EMs, o.Failed)
			}
		})
	}
}

// TestNewObservationAllocs: the tracker builds an observation for every
// request; it allocates nothing.
func TestNewObservationAllocs(t *testing.T) {
	k := correlate.Summary{DNS: time.Millisecond, DNSLookups: 1, Runqueue: time.Millisecond, Tier: correlate.TierExact}
	c := Calls{N: 1, DNS: time.Millisecond, ProviderWait: time.Second}
	probed := ProbedFeatures(probes.AllSignals()...)
	if n := testing.AllocsPerRun(100, func() { _ = NewObservation(time.Second, false, c, k, probed) }); n != 0 {
		t.Errorf("%v allocations per observation", n)
	}
}

func TestProbedFeatures(t *testing.T) {
	s := ProbedFeatures(probes.ConnectLatency, probes.CPUSteal)
	var got []Feature
	for _, f := range AllFeatures() {
		if s.Has(f) {
			got = append(got, f)
		}
	}
	if diff := cmp.Diff([]Feature{KernConnectMs, KernConnectErrors, KernStealPct}, got); diff != "" {
		t.Error(diff)
	}
	// Every kernel feature is measured by some signal.
	all := ProbedFeatures(probes.AllSignals()...)
	for _, f := range AllFeatures() {
		if f.Kernel() != all.Has(f) {
			t.Errorf("%v: kernel %v, measured by a signal %v", f, f.Kernel(), all.Has(f))
		}
	}
	if FeatureSet(0).With(numFeatures).Has(numFeatures) {
		t.Error("an invalid feature joined the set")
	}
}

func TestDefaultModel(t *testing.T) {
	m := DefaultModel()
	if !m.usable() {
		t.Fatal("the embedded model does not decode")
	}
	if m.Provenance.Command == "" || m.Provenance.Runs == 0 || m.Provenance.Samples == 0 {
		t.Errorf("provenance = %+v", m.Provenance)
	}
	// Each call is a fresh copy.
	if DefaultModel() == m {
		t.Error("DefaultModel returned a shared model")
	}
	// A slow resolver is network_dns under the fitted model.
	v := Attribute(obs(600, AppDNSMs, 400, KernDNSMs, 400), m)
	if v.Top != NetworkDNS {
		t.Errorf("dns evidence: %+v", v)
	}
}
