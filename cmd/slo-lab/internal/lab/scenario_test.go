package lab

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/llmslo/slo/attribution"
)

func schema(t testing.TB) []byte {
	b, err := os.ReadFile("../../scenario.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const good = `
name: dns
load: {rps: 10, duration: 7s}
faults:
  - {kind: dns_delay, start: 3s, end: 6.5s, delay: 400ms}
seed: 1
repetitions: 10
assertions:
  - top_domain: network_dns
  - detection_delay_max: 2s
`

func TestParseScenario(t *testing.T) {
	s, err := Schema(schema(t))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ParseScenario([]byte(good), s)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Faults[0].Delay.D() != 400*time.Millisecond || sc.Faults[0].Domain() != attribution.NetworkDNS ||
		sc.Workload.TTFTThreshold != 0 || sc.Family != "dns" || len(sc.Assertions) != 2 {
		t.Errorf("parsed %+v", sc)
	}
	if st, en, ok := sc.Window(); !ok || st != 3*time.Second || en != 6500*time.Millisecond {
		t.Errorf("window %v %v %v", st, en, ok)
	}
	for _, tc := range []struct{ name, src, want string }{
		{"unknown kind", strings.Replace(good, "dns_delay", "meteor", 1), "schema"},
		{"end before start", strings.Replace(good, "end: 6.5s", "end: 2s", 1), "not after start"},
		{"end after load", strings.Replace(good, "end: 6.5s", "end: 9s", 1), "after the load ends"},
		{"bad duration", strings.Replace(good, "400ms", "soon", 1), "schema"},
		{"extra field", good + "colour: red\n", "schema"},
		{"two assertions in one", strings.Replace(good, "- top_domain: network_dns", "- {top_domain: network_dns, no_incident: true}", 1), "schema"},
		{"no reps", strings.Replace(good, "repetitions: 10", "", 1), "schema"},
		{"not yaml", "{[", "yaml"},
	} {
		if _, err := ParseScenario([]byte(tc.src), s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func FuzzParseScenario(f *testing.F) {
	s, err := Schema(schema(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(good))
	f.Add([]byte("name: x\nload: {rps: 1, duration: 1s}\nseed: 0\nrepetitions: 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := ParseScenario(b, s)
		if err == nil && (sc.Name == "" || sc.Repetitions < 1 || sc.Load.RPS <= 0) {
			t.Fatalf("accepted invalid scenario %+v", sc)
		}
	})
}

func TestEvaluateHandComputed(t *testing.T) {
	// Two single-fault scenarios, two reps each, perfectly separable
	// evidence: every arm that sees the evidence scores 1.
	mk := func(f attribution.Feature, v float64, d attribution.Domain) Sample {
		var o attribution.Observation
		o.Set(attribution.AppDNSMs, 0) // every sample observes both features
		o.Set(attribution.AppThrottled, 0)
		o.Set(f, v)
		return Sample{Obs: o, Truth: d, InFault: true}
	}
	scs := []*Scenario{
		{Name: "dns", Faults: []Fault{{Kind: "dns_delay"}}, Repetitions: 2},
		{Name: "thr", Faults: []Fault{{Kind: "provider_throttle"}}, Repetitions: 2},
	}
	t0 := time.Unix(1000, 0)
	var res [][]RunResult
	for _, c := range []struct {
		f attribution.Feature
		d attribution.Domain
	}{{attribution.AppDNSMs, attribution.NetworkDNS}, {attribution.AppThrottled, attribution.ProviderThrottle}} {
		var rs []RunResult
		for rep := range 2 {
			rs = append(rs, RunResult{Rep: rep, Start: t0, FaultAt: t0.Add(3 * time.Second),
				Incidents: []IncidentRec{{At: t0.Add(3500 * time.Millisecond), Severity: "page"}},
				Samples:   []Sample{mk(c.f, 500, c.d), mk(c.f, 400, c.d)}})
		}
		res = append(res, rs)
	}
	rep, model, err := Evaluate(scs, res, EvalConfig{Folds: 2, Provenance: attribution.Provenance{Command: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Arms["app"].MacroF1; got != 1 {
		t.Errorf("app macro-F1 = %v, want 1", got)
	}
	if got := rep.Arms["both"].DetectionDelayP50; got != 0.5 {
		t.Errorf("detection delay p50 = %v, want 0.5", got)
	}
	if model == nil || model.Provenance.Runs != 4 || model.Provenance.Samples != 8 {
		t.Errorf("model provenance = %+v", model)
	}
}
