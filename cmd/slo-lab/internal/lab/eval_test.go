package lab

import (
	"math"
	"strings"
	"testing"

	"github.com/llmslo/slo/attribution"
)

// verdict builds a verdict whose top posterior is p for domain top.
func verdict(top attribution.Domain, p float64) attribution.Verdict {
	return attribution.Verdict{Top: top, Confidence: p, Ranked: []attribution.Hypothesis{{Domain: top, Posterior: p}}}
}

func TestReliability(t *testing.T) {
	var tl tally
	dns, thr := attribution.NetworkDNS, attribution.ProviderThrottle
	// Bin [0.9, 1.0): 4 samples at 0.95, 3 right → accuracy 0.75, gap 0.20.
	for i := range 4 {
		truth := dns
		if i == 3 {
			truth = thr
		}
		tl.add(truth, verdict(dns, 0.95))
	}
	// Bin [0.5, 0.6): 2 samples at 0.55, 1 right → accuracy 0.5, gap 0.05.
	tl.add(thr, verdict(thr, 0.55))
	tl.add(dns, verdict(thr, 0.55))
	// A posterior of exactly 1 falls in the last bin.
	tl.add(dns, verdict(dns, 1))
	bins, ece := tl.reliability()
	if len(bins) != 2 {
		t.Fatalf("bins = %+v", bins)
	}
	hi := bins[1]
	if hi.N != 5 || math.Abs(hi.Confidence-0.96) > 1e-12 || math.Abs(hi.Accuracy-0.8) > 1e-12 {
		t.Errorf("top bin = %+v, want 5 samples, confidence 0.96, accuracy 0.8", hi)
	}
	// ECE = 5/7·|0.8−0.96| + 2/7·|0.5−0.55|.
	if want := 5.0/7*0.16 + 2.0/7*0.05; math.Abs(ece-want) > 1e-12 {
		t.Errorf("ECE = %v, want %v", ece, want)
	}
	if tl.conf.Total() != 7 || tl.conf.Counts[thr][dns] != 1 {
		t.Errorf("confusion = %+v", tl.conf.Counts)
	}
}

// TestEvaluateGivenModel checks that -evaluate scores the model it is
// given, as is: a model fitted to call every DNS-looking request
// provider_throttle scores 0 on DNS runs, whatever the runs would teach.
func TestEvaluateGivenModel(t *testing.T) {
	rec := syntheticRecord(t)
	m := wrongModel(t, "wrong on purpose")
	rep, _, err := Evaluate(rec.Scenarios, rec.Results, EvalConfig{Folds: 3, Models: []NamedModel{{Name: "wrong.json", Model: m}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Models) != 1 || rep.Models[0].Provenance.Command != "wrong on purpose" || rep.Models[0].Name != "wrong.json" {
		t.Fatalf("evaluated models = %+v", rep.Models)
	}
	got := rep.Models[0].PerClass[attribution.NetworkDNS.String()]
	if got.Support == 0 || got.Recall != 0 {
		t.Errorf("network_dns under the wrong model = %+v, want support > 0 and recall 0", got)
	}
	if rep.Arms["both"].PerClass[attribution.NetworkDNS.String()].Recall < 0.9 {
		t.Errorf("the cross-validated arm should still learn DNS: %+v", rep.Arms["both"].PerClass)
	}
	if !strings.Contains(string(rep.Markdown()), "## Evaluated model `wrong.json`") {
		t.Error("report.md has no section for the evaluated model")
	}
}

// wrongModel is a model fitted to call every DNS-looking request
// provider_throttle, with command as its provenance.
func wrongModel(t *testing.T, command string) *attribution.Model {
	t.Helper()
	var wrong []attribution.Labeled
	for range 20 {
		var o attribution.Observation
		for _, f := range attribution.AllFeatures() {
			o.Set(f, 0)
		}
		o.Set(attribution.AppDNSMs, 400)
		o.Set(attribution.KernDNSMs, 400)
		wrong = append(wrong, attribution.Labeled{Obs: o, Truth: attribution.ProviderThrottle})
	}
	m, err := attribution.Fit(wrong, LabBins(), 1, attribution.Provenance{Command: command})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestConfigCheck(t *testing.T) {
	sc := &Scenario{Name: "x", Repetitions: 1}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"reps 1", Config{Reps: 1}, "at least 2"},
		{"negative reps", Config{Reps: -3}, "at least 2"},
		{"scenario with one repetition", Config{Scenarios: []*Scenario{sc}}, "x has 1 repetition"},
		{"model that does not decode", Config{Reps: 2, Evaluate: []EvaluatedModel{{Name: "m.json", Model: []byte("{")}}}, "model to evaluate m.json"},
	} {
		err := tc.cfg.check()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	if err := (&Config{Reps: 2, Scenarios: []*Scenario{sc}}).check(); err != nil {
		t.Errorf("-reps 2 overrides the scenario's repetitions: %v", err)
	}
	if _, _, err := Evaluate(nil, nil, EvalConfig{Folds: 1}); err == nil {
		t.Error("Evaluate with 1 fold: no error")
	}
}

func TestWarningsBelowSupport(t *testing.T) {
	rep := &Report{LOMO: LOMOJSON{ArmJSON: ArmJSON{PerClass: map[string]ClassJSON{
		"network_dns": {Support: 49}, "provider_error": {Support: 50},
	}}}}
	rep.warnings()
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "network_dns has 49 samples") {
		t.Errorf("warnings = %q", rep.Warnings)
	}
}
