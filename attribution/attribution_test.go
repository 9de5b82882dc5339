package attribution

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func obs(e2e float64, kv ...any) Observation {
	var o Observation
	o.E2EMs = e2e
	for i := 0; i < len(kv); i += 2 {
		o.Set(kv[i].(Feature), float64(kv[i+1].(int)))
	}
	return o
}

func TestDecompose(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Observation
		want map[Domain]float64
	}{
		{"nothing observed", obs(300), map[Domain]float64{Unknown: 300}},
		{"dns: the larger of app and kernel", obs(400, AppDNSMs, 140, KernDNSMs, 150),
			map[Domain]float64{NetworkDNS: 150, Unknown: 250}},
		{"retransmits count 200 ms each", obs(1000, KernRetransmits, 2),
			map[Domain]float64{NetworkEgress: 400, Unknown: 600}},
		{"provider ttfb minus local causes", obs(900, AppProviderTTFBMs, 500, KernRunqueueMs, 120),
			map[Domain]float64{ProviderLatency: 380, CPUContention: 120, Unknown: 400}},
		{"explained beyond e2e leaves no unknown", obs(100, KernCFSThrottledMs, 300),
			map[Domain]float64{CPUThrottle: 300}},
		{"throttle counts", obs(50, AppThrottled, 1), map[Domain]float64{ProviderThrottle: 1000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Decompose(tc.o)
			gotMap := map[Domain]float64{}
			for d, v := range got {
				if v != 0 {
					gotMap[Domain(d)] = v
				}
			}
			if diff := cmp.Diff(tc.want, gotMap); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestAttributeWithoutModel(t *testing.T) {
	v := Attribute(obs(400, KernDNSMs, 300), nil)
	// 300 of 400 ms explained by DNS: posterior 0.75, the rest unknown.
	if v.Top != NetworkDNS || math.Abs(v.Confidence-0.75) > 1e-12 {
		t.Fatalf("verdict = %+v", v)
	}
	if diff := cmp.Diff([]Feature{KernDNSMs}, v.Ranked[0].Evidence); diff != "" {
		t.Error(diff)
	}
	// Weak evidence abstains.
	v = Attribute(obs(1000, KernDNSMs, 100), nil)
	if v.Top != Unknown || math.Abs(v.Confidence-0.9) > 1e-12 {
		t.Fatalf("weak evidence verdict = %+v", v)
	}
}

// TestFitPosterior checks the naive-Bayes arithmetic on a data set small
// enough to compute by hand.
func TestFitPosterior(t *testing.T) {
	bins := map[string]Bins{}
	for f := Feature(0); f < numFeatures; f++ {
		bins[f.String()] = Bins{Edges: []float64{100}} // bins: 0 | (0,100] | >100
	}
	var samples []Labeled
	// 3 DNS samples: kernel dns 150 (bin 2) twice, 50 (bin 1) once.
	for _, v := range []int{150, 150, 50} {
		samples = append(samples, Labeled{obs(0, KernDNSMs, v), NetworkDNS})
	}
	// 1 throttle sample: kernel dns 0 (bin 0).
	samples = append(samples, Labeled{obs(0, KernDNSMs, 0), ProviderThrottle})
	m, err := Fit(samples, bins, 1, Provenance{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// Priors 3/4, 1/4. With alpha 1 over 3 bins:
	//   P(bin2|dns) = (2+1)/(3+3) = 1/2;  P(bin2|throttle) = (0+1)/(1+3) = 1/4.
	// Posterior(dns | bin2) = (3/4·1/2) / (3/4·1/2 + 1/4·1/4) = 0.375/0.4375 = 6/7.
	p := m.posterior(ptr(obs(0, KernDNSMs, 200)))
	if math.Abs(p[NetworkDNS]-6.0/7) > 1e-12 || math.Abs(p[ProviderThrottle]-1.0/7) > 1e-12 {
		t.Errorf("posterior = %v", p)
	}
	// A missing feature leaves the prior.
	p = m.posterior(ptr(obs(0)))
	if math.Abs(p[NetworkDNS]-0.75) > 1e-12 {
		t.Errorf("posterior with nothing observed = %v, want the prior", p)
	}
	// Round trip through JSON.
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := UnmarshalModel(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m.posterior(ptr(obs(0, KernDNSMs, 60))), m2.posterior(ptr(obs(0, KernDNSMs, 60))), cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Error(diff)
	}
}

func ptr(o Observation) *Observation { return &o }

func TestConfusionScores(t *testing.T) {
	var c Confusion
	// dns: 8 right, 1 abstained, 1 called throttle; throttle: 5 right; 2 fault-free called dns.
	for range 8 {
		c.Add(NetworkDNS, NetworkDNS)
	}
	c.Add(NetworkDNS, Unknown)
	c.Add(NetworkDNS, ProviderThrottle)
	for range 5 {
		c.Add(ProviderThrottle, ProviderThrottle)
	}
	c.Add(Unknown, NetworkDNS)
	c.Add(Unknown, NetworkDNS)
	dns := c.Score(NetworkDNS)
	// precision 8/10, recall 8/10, F1 0.8.
	if math.Abs(dns.Precision-0.8) > 1e-12 || math.Abs(dns.Recall-0.8) > 1e-12 || math.Abs(dns.F1-0.8) > 1e-12 || dns.Support != 10 {
		t.Errorf("dns = %+v", dns)
	}
	thr := c.Score(ProviderThrottle) // precision 5/6, recall 1, F1 = 2·(5/6)/(11/6) = 10/11
	if math.Abs(thr.F1-10.0/11) > 1e-12 {
		t.Errorf("throttle = %+v", thr)
	}
	if got, want := c.MacroF1(), (0.8+10.0/11)/2; math.Abs(got-want) > 1e-12 {
		t.Errorf("macro-F1 = %v, want %v", got, want)
	}
	// Unknown: support 2, never right (F1 0), so it pulls the mean down.
	if got, want := c.MacroF1WithUnknown(), (0+0.8+10.0/11)/3; math.Abs(got-want) > 1e-12 {
		t.Errorf("macro-F1 with unknown = %v, want %v", got, want)
	}
	if got := c.AbstainRate(); math.Abs(got-1.0/15) > 1e-12 {
		t.Errorf("abstain = %v, want 1/15", got)
	}
}

func TestAggregate(t *testing.T) {
	a := Attribute(obs(400, KernDNSMs, 400), nil)  // dns 1.0
	b := Attribute(obs(400, AppThrottled, 1), nil) // throttle 1.0 (1000 ms > e2e)
	c := Attribute(obs(400, KernDNSMs, 300), nil)  // dns 0.75, unknown 0.25
	v := Aggregate([]Verdict{a, b, c})
	// dns (1 + 0.75)/3 = 0.5833 ≥ 0.5: top.
	if v.Top != NetworkDNS || math.Abs(v.Confidence-1.75/3) > 1e-12 {
		t.Errorf("aggregate = %+v", v)
	}
	if v.Ranked[1].Domain != ProviderThrottle {
		t.Errorf("runner-up = %v", v.Ranked[1].Domain)
	}
	if e := Aggregate(nil); e.Top != Unknown {
		t.Errorf("empty aggregate = %+v", e)
	}
}

func TestBaseline(t *testing.T) {
	var b Baseline
	b.Observe(obs(0, AppProviderTTFBMs, 100, AppThrottled, 3))
	x := b.Excess(obs(0, AppProviderTTFBMs, 250, AppThrottled, 2, KernDNSMs, 40))
	if x.Values[AppProviderTTFBMs] != 150 || x.Values[AppThrottled] != 2 || x.Values[KernDNSMs] != 40 {
		t.Errorf("excess = %v", x.Values)
	}
	b.Observe(obs(0, AppProviderTTFBMs, 200)) // 100 + 0.04·100 = 104
	if got := b.Excess(obs(0, AppProviderTTFBMs, 104)).Values[AppProviderTTFBMs]; got != 0 {
		t.Errorf("excess at the baseline = %v", got)
	}
}

func TestOnlyArms(t *testing.T) {
	o := obs(100, AppDNSMs, 10, KernDNSMs, 20)
	k := o.Only(Feature.Kernel)
	if k.Has(AppDNSMs) || !k.Has(KernDNSMs) || k.E2EMs != 100 {
		t.Errorf("kernel arm = %+v", k)
	}
}

func FuzzUnmarshalModel(f *testing.F) {
	m, _ := Fit([]Labeled{{obs(0, KernDNSMs, 150), NetworkDNS}, {obs(0, AppThrottled, 1), ProviderThrottle}}, nil, 1, Provenance{})
	b, _ := json.Marshal(m)
	f.Add(b)
	f.Add([]byte(`{"version":1,"prior":{"nope":1}}`))
	f.Add([]byte(`{"version":1,"bins":{"kernel.dns_ms":{"edges":[1]}},"prior":{"network_dns":1},"likelihood":{"network_dns":{"kernel.dns_ms":[0.5]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := UnmarshalModel(data)
		if err != nil {
			return
		}
		o := obs(100, KernDNSMs, 50, AppThrottled, 2)
		v := Attribute(o, m)
		if v.Confidence < 0 || v.Confidence > 1+1e-9 || math.IsNaN(v.Confidence) {
			t.Fatalf("confidence %v", v.Confidence)
		}
	})
}

func TestSlowDecodeIsProviderLatency(t *testing.T) {
	// Prefill 630 ms over baseline, the whole provider stream 2600 ms over:
	// slow decode explains most of a 3500 ms request.
	v := Attribute(obs(3500, AppProviderTTFBMs, 630, AppProviderWaitMs, 2600), nil)
	if v.Top != ProviderLatency {
		t.Fatalf("verdict = %+v", v)
	}
}

func TestUniformPrior(t *testing.T) {
	m, err := UnmarshalModel([]byte(`{"version":1,"provenance":{"command":"x"},"prior":{"unknown":0.1,"network_dns":0.6,"cpu_throttle":0.3}}`))
	if err != nil {
		t.Fatal(err)
	}
	u := m.UniformPrior()
	// Unknown keeps 0.1; the two fault domains share 0.9.
	if diff := cmp.Diff(map[string]float64{"unknown": 0.1, "network_dns": 0.45, "cpu_throttle": 0.45}, u.Prior, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Error(diff)
	}
	if p := u.posterior(ptr(obs(0))); math.Abs(p[NetworkDNS]-0.45) > 1e-12 || math.Abs(p[Unknown]-0.1) > 1e-12 {
		t.Errorf("posterior with nothing observed = %v", p)
	}
	if m.Prior["network_dns"] != 0.6 || m.posterior(ptr(obs(0)))[NetworkDNS] != 0.6 {
		t.Error("UniformPrior changed the original")
	}
	// Round trip keeps the uniform prior.
	b, _ := json.Marshal(u)
	u2, err := UnmarshalModel(b)
	if err != nil || u2.Prior["cpu_throttle"] != 0.45 {
		t.Errorf("round trip: %v %v", err, u2)
	}
	var nilModel *Model
	if nilModel.UniformPrior() != nil {
		t.Error("nil model")
	}
}
