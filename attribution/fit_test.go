package attribution

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestExtendUp(t *testing.T) {
	for _, tc := range []struct{ in, want []float64 }{
		{[]float64{5, 0, 3, 0, 0}, []float64{5, 0, 3, 3, 3}},
		{[]float64{5, 0, 0, 0}, []float64{5, 0, 0, 0}}, // nothing above 0: nothing to extend
		{[]float64{0, 1, 0, 2}, []float64{0, 1, 0, 2}},
	} {
		if got := extendUp(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("extendUp(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestSpreadPositive(t *testing.T) {
	// Bin 2 holds 8: bins 1 and 3 get 8·0.5 = 4, bin 4 gets 8·0.25 = 2;
	// bin 0 neither gives nor gets.
	got := spreadPositive([]float64{10, 0, 8, 0, 0}, 0.5)
	if want := []float64{10, 4, 8, 4, 2}; !slices.Equal(got, want) {
		t.Errorf("spreadPositive = %v, want %v", got, want)
	}
}

func TestNormalizeTemperature(t *testing.T) {
	var logp [numDomains]float64
	for d := range logp {
		logp[d] = math.Inf(-1)
	}
	logp[NetworkDNS], logp[ProviderError] = 0, -math.Log(9) // odds 9:1
	p := normalize(logp, 1)
	if math.Abs(p[NetworkDNS]-0.9) > 1e-12 {
		t.Errorf("T=1: %v", p[NetworkDNS])
	}
	p = normalize(logp, 2) // odds 3:1
	if math.Abs(p[NetworkDNS]-0.75) > 1e-12 || p[Unknown] != 0 {
		t.Errorf("T=2: %v", p)
	}
}

// sep builds samples of two domains told apart by one feature each, with
// group g; every sample observes three features (the third never rises).
func sep(n, g int) ([]Labeled, []int) {
	var out []Labeled
	var groups []int
	for i := range n {
		dns := obs(500, AppDNSMs, 300+i%50, AppRetrievalMs, 0, AppProviderTTFBMs, 0)
		retr := obs(500, AppDNSMs, 0, AppRetrievalMs, 300+i%50, AppProviderTTFBMs, 0)
		if i%10 == 0 { // a little overlap: neither class is certain
			dns = obs(500, AppDNSMs, 0, AppRetrievalMs, 0, AppProviderTTFBMs, 0)
		}
		out = append(out, Labeled{dns, NetworkDNS}, Labeled{retr, RetrievalBackend})
		groups = append(groups, g, g)
	}
	return out, groups
}

// sepGroups returns bins 0 | (0, 10] | (10, 100] | more for every
// feature and four groups of sep's samples.
func sepGroups() (map[string]Bins, []Labeled, []int) {
	bins := map[string]Bins{}
	for f := Feature(0); f < numFeatures; f++ {
		bins[f.String()] = Bins{Edges: []float64{10, 100}}
	}
	var samples []Labeled
	var groups []int
	for g := range 4 {
		s, gr := sep(40, g)
		samples, groups = append(samples, s...), append(groups, gr...)
	}
	return bins, samples, groups
}

func TestFitCalibrated(t *testing.T) {
	bins, samples, groups := sepGroups()
	m, err := FitCalibrated(samples, groups, FitConfig{Bins: bins, UniformPrior: true, Provenance: Provenance{Command: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Temperature < 1 || m.Abstain == nil || m.Abstain.MinPosterior <= 0 || len(m.Abstain.MaxSurprise) != 2 {
		t.Fatalf("calibration: temperature %v, abstain %+v", m.Temperature, m.Abstain)
	}
	if v := Attribute(obs(500, AppDNSMs, 320, AppRetrievalMs, 0, AppProviderTTFBMs, 0), m); v.Top != NetworkDNS {
		t.Errorf("dns evidence: %+v", v)
	}
	// DNS evidence and a slow provider, which neither domain was ever seen
	// with: DNS is by far the most likely, but its surprise is beyond its
	// limit, so the verdict abstains.
	novel := obs(500, AppDNSMs, 320, AppRetrievalMs, 0, AppProviderTTFBMs, 400)
	if v := Attribute(novel, m); v.Top != Unknown || v.Ranked[0].Domain != NetworkDNS || v.Ranked[0].Posterior < 0.9 {
		t.Errorf("novel evidence: %+v (surprise limits %v)", v, m.Abstain.MaxSurprise)
	}
	// The calibration survives JSON.
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalModel(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Temperature != m.Temperature || back.Abstain.MinPosterior != m.Abstain.MinPosterior ||
		Attribute(novel, back).Top != Unknown {
		t.Errorf("after JSON: %+v", back.Abstain)
	}
	// One group: nothing to hold out, no calibration.
	one, err := FitCalibrated(samples[:80], make([]int, 80), FitConfig{Bins: bins})
	if err != nil || one.Abstain != nil || one.Temperature != 0 {
		t.Errorf("one group: %v, %+v", err, one)
	}
	if _, err := FitCalibrated(samples, groups[:3], FitConfig{}); err == nil {
		t.Error("groups of the wrong length: no error")
	}
}

func TestSurprise(t *testing.T) {
	bins := map[string]Bins{}
	for f := Feature(0); f < numFeatures; f++ {
		bins[f.String()] = Bins{Edges: []float64{100}} // 0 | (0,100] | > 100
	}
	// DNS: kernel dns in bin 2 three times: P = (3+1)/(3+3), bins 0 and 1: 1/6.
	samples := []Labeled{{obs(0, KernDNSMs, 150), NetworkDNS}, {obs(0, KernDNSMs, 150), NetworkDNS}, {obs(0, KernDNSMs, 150), NetworkDNS}}
	m, err := Fit(samples, bins, 1, Provenance{})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Surprise(obs(0, KernDNSMs, 150), NetworkDNS); math.Abs(got-math.Log(6.0/4)) > 1e-12 {
		t.Errorf("surprise of a usual value = %v, want ln 1.5", got)
	}
	if got := m.Surprise(obs(0, KernDNSMs, 0), NetworkDNS); math.Abs(got-math.Log(6)) > 1e-12 {
		t.Errorf("surprise of an unusual value = %v, want ln 6", got)
	}
	// A feature DNS never saw counts as uniform: −ln(1/3).
	if got := m.Surprise(obs(0, AppRetrievalMs, 500), NetworkDNS); math.Abs(got-math.Log(3)) > 1e-12 {
		t.Errorf("surprise of an unseen feature = %v, want ln 3", got)
	}
	if (*Model)(nil).Surprise(obs(0), NetworkDNS) != 0 || m.Surprise(obs(0), ProviderError) != 0 {
		t.Error("no model, or a domain without prior: surprise 0")
	}
}

func TestModelCalibrationDecode(t *testing.T) {
	base := `{"version":1,"prior":{"network_dns":1},"bins":{},"likelihood":{}`
	for _, tc := range []struct{ extra, want string }{
		{`,"temperature":-1}`, "temperature"},
		{`,"abstain":{"min_posterior":1.5}}`, "abstain below"},
		{`,"abstain":{"min_posterior":0.5,"max_surprise":{"meteor":1}}}`, "max surprise"},
		{`,"abstain":{"min_posterior":0.5,"max_surprise":{"network_dns":0}}}`, "max surprise"},
	} {
		if _, err := UnmarshalModel([]byte(base + tc.extra)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.extra, err, tc.want)
		}
	}
}

func TestLacksOwnEvidence(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Observation
		d    Domain
		want bool
	}{
		{"CFS watched, nothing throttled", obs(900, KernCFSThrottledMs, 0, KernRunqueueMs, 300), CPUThrottle, true},
		{"CFS not watched", obs(900, KernRunqueueMs, 300), CPUThrottle, false},
		{"CFS throttled", obs(900, KernCFSThrottledMs, 40, KernRunqueueMs, 300), CPUThrottle, false},
		{"run-queue delay for contention", obs(900, KernCFSThrottledMs, 0, KernRunqueueMs, 300), CPUContention, false},
		{"kernel DNS time, none in httptrace", obs(900, AppDNSMs, 0, KernDNSMs, 12), NetworkDNS, false},
		{"no DNS time anywhere", obs(900, AppDNSMs, 0, KernDNSMs, 0), NetworkDNS, true},
		{"retransmits without connect time", obs(900, AppConnectMs, 0, KernRetransmits, 2), NetworkEgress, false},
		{"provider neither slow to start nor to stream", obs(900, AppProviderTTFBMs, 0, AppProviderWaitMs, 0), ProviderLatency, true},
		{"unknown has no evidence of its own", obs(900, AppDNSMs, 0), Unknown, false},
	} {
		if got := lacksOwnEvidence(&tc.o, tc.d); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestOwnEvidenceAbstains: requests with no excess on any feature look
// most like DNS to a model fitted on sep's samples (a tenth of its DNS
// requests showed none); with the OwnEvidence rule the verdict abstains,
// since DNS time was observed and shows no excess. FitCalibrated sets the
// rule when asked, and it survives JSON.
func TestOwnEvidenceAbstains(t *testing.T) {
	bins, samples, groups := sepGroups()
	flat := obs(500, AppDNSMs, 0, AppRetrievalMs, 0, AppProviderTTFBMs, 0)
	m, err := Fit(samples, bins, 1, Provenance{})
	if err != nil {
		t.Fatal(err)
	}
	m.Abstain = &Abstain{MinPosterior: 0.5}
	if v := Attribute(flat, m); v.Top != NetworkDNS {
		t.Fatalf("without the rule: %+v", v)
	}
	m.Abstain.OwnEvidence = true
	if v := Attribute(flat, m); v.Top != Unknown || v.Ranked[0].Domain != NetworkDNS {
		t.Errorf("with the rule: %+v", v)
	}
	if v := Attribute(obs(500, AppDNSMs, 320, AppRetrievalMs, 0, AppProviderTTFBMs, 0), m); v.Top != NetworkDNS {
		t.Errorf("DNS evidence with the rule: %+v", v)
	}
	own, err := FitCalibrated(samples, groups, FitConfig{Bins: bins, UniformPrior: true, OwnEvidence: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(own)
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalModel(b)
	if err != nil || !back.Abstain.OwnEvidence || Attribute(flat, back).Top != Unknown {
		t.Errorf("after JSON: %v, %+v", err, back.Abstain)
	}
}
