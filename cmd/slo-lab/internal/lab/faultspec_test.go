package lab

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmslo/slo/attribution"
)

// scenarioWith is a valid scenario around one fault line.
func scenarioWith(fault string) string {
	return "name: x\nload: {rps: 10, duration: 7s}\nseed: 1\nrepetitions: 2\nfaults:\n  - " + fault + "\n"
}

// TestFaultKindsParse checks that every kind of the language parses with
// its parameters and injects the domain its injector breaks.
func TestFaultKindsParse(t *testing.T) {
	s, err := Schema(schema(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fault  string
		domain attribution.Domain
	}{
		{"{kind: dns_delay, start: 1s, end: 2s, delay: 300ms, jitter: 100ms}", attribution.NetworkDNS},
		{"{kind: dns_error, start: 1s, end: 2s, mode: servfail}", attribution.NetworkDNS},
		{"{kind: dns_error, start: 1s, end: 2s, mode: nxdomain}", attribution.NetworkDNS},
		{"{kind: dns_error, start: 1s, end: 2s, mode: drop}", attribution.NetworkDNS},
		{"{kind: packet_loss, start: 1s, end: 2s, percent: 5, direction: both}", attribution.NetworkEgress},
		{"{kind: partition, start: 1s, end: 2s, reject: true}", attribution.NetworkEgress},
		{"{kind: partition, start: 1s, end: 2s}", attribution.NetworkEgress},
		{"{kind: net_delay, start: 1s, end: 2s, delay: 100ms, jitter: 20ms, direction: both}", attribution.NetworkEgress},
		{"{kind: cpu_throttle, start: 1s, end: 2s, quota_pct: 20}", attribution.CPUThrottle},
		{"{kind: cpu_contention, start: 1s, end: 2s, workers: 4}", attribution.CPUContention},
		{"{kind: memory_pressure, start: 1s, end: 2s, headroom_mb: 64}", attribution.MemoryPressure},
		{"{kind: provider_throttle, start: 1s, end: 2s, rate: 0.5, retry_after: 1s}", attribution.ProviderThrottle},
		{"{kind: provider_error, start: 1s, end: 2s, reset_rate: 0.2}", attribution.ProviderError},
		{"{kind: provider_stream, start: 1s, end: 2s, truncate_rate: 0.5, after_chunks: 3}", attribution.ProviderError},
		{"{kind: provider_latency, start: 1s, end: 2s, token_delay: 30ms}", attribution.ProviderLatency},
		{"{kind: retrieval_slow, start: 1s, end: 6s, delay: 300ms, burst: {on: 500ms, off: 1s}}", attribution.RetrievalBackend},
		{"{kind: retrieval_error, start: 1s, end: 6s, rate: 0.8, status: 502, ramp: 4}", attribution.RetrievalBackend},
	} {
		sc, err := ParseScenario([]byte(scenarioWith(tc.fault)), s)
		if err != nil {
			t.Errorf("%s: %v", tc.fault, err)
			continue
		}
		if got := sc.Faults[0].Domain(); got != tc.domain {
			t.Errorf("%s: domain %s, want %s", tc.fault, got, tc.domain)
		}
	}
}

// TestFaultRejections checks that the validator refuses faults that would
// change nothing, parameters a kind does not take, and malformed shapes;
// each case is checked with and without the schema (a record's scenarios
// are not schema-validated), and the Go check must name the problem.
func TestFaultRejections(t *testing.T) {
	s, err := Schema(schema(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ fault, want string }{
		{"{kind: cpu_throttle, start: 1s, end: 2s}", "without quota_pct changes nothing"},
		{"{kind: packet_loss, start: 1s, end: 2s}", "without percent changes nothing"},
		{"{kind: dns_delay, start: 1s, end: 2s}", "without delay changes nothing"},
		{"{kind: dns_error, start: 1s, end: 2s}", "without mode changes nothing"},
		{"{kind: provider_throttle, start: 1s, end: 2s, retry_after: 1s}", "without rate changes nothing"},
		{"{kind: provider_error, start: 1s, end: 2s, status: 502}", "without rate or reset_rate changes nothing"},
		{"{kind: provider_stream, start: 1s, end: 2s, after_chunks: 2}", "without reset_rate or truncate_rate changes nothing"},
		{"{kind: provider_latency, start: 1s, end: 2s, jitter: 50ms}", "without delay or token_delay changes nothing"},
		{"{kind: retrieval_slow, start: 1s, end: 2s}", "without delay changes nothing"},
		{"{kind: retrieval_error, start: 1s, end: 2s}", "without rate changes nothing"},
		{"{kind: net_delay, start: 1s, end: 2s, jitter: 50ms}", "without delay changes nothing"},
		{"{kind: dns_delay, start: 1s, end: 2s, delay: 1s, percent: 5}", "dns_delay does not take percent"},
		{"{kind: packet_loss, start: 1s, end: 2s, percent: 5, jitter: 1s}", "packet_loss does not take jitter"},
		{"{kind: cpu_contention, start: 1s, end: 2s, quota_pct: 10}", "cpu_contention does not take quota_pct"},
		{"{kind: dns_error, start: 1s, end: 2s, mode: refuse}", "servfail, nxdomain or drop"},
		{"{kind: provider_error, start: 1s, end: 2s, rate: 0.7, reset_rate: 0.5}", "exceed 1"},
		{"{kind: dns_delay, start: 1s, end: 2s, delay: 1s, burst: {on: 2s, off: 1s}}", "not shorter than the fault"},
		{"{kind: dns_delay, start: 1s, end: 5s, delay: 1s, burst: {on: 1s, off: 1s}, ramp: 2}", "bursts or ramps"},
		{"{kind: partition, start: 1s, end: 2s, ramp: 3}", "no magnitude to ramp"},
		{"{kind: cpu_contention, start: 1s, end: 2s, ramp: 3}", "ramp of cpu_contention needs workers"},
		{"{kind: dns_delay, start: 2s, end: 1s, delay: 1s}", "not after start"},
		{"{kind: dns_delay, start: 1s, end: 9s, delay: 1s}", "after the load ends"},
	} {
		src := scenarioWith(tc.fault)
		if _, err := ParseScenario([]byte(src), s); err == nil {
			t.Errorf("%s: accepted with the schema", tc.fault)
		}
		_, err := ParseScenario([]byte(src), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.fault, err, tc.want)
		}
	}
	two := "name: x\nload: {rps: 10, duration: 7s}\nseed: 1\nrepetitions: 2\nfaults:\n" +
		"  - {kind: provider_latency, start: 1s, end: 4s, delay: 1s}\n  - {kind: provider_error, start: 3s, end: 5s, rate: 0.5}\n"
	if _, err := ParseScenario([]byte(two), nil); err == nil || !strings.Contains(err.Error(), "both drive the provider middleware") {
		t.Errorf("overlapping provider faults: err = %v", err)
	}
	if _, err := ParseScenario([]byte(strings.Replace(two, "start: 3s", "start: 4s", 1)), nil); err != nil {
		t.Errorf("provider faults one after the other: %v", err)
	}
}

func TestCheckNames(t *testing.T) {
	a, b := &Scenario{Name: "dns"}, &Scenario{Name: "dns"}
	if err := CheckNames([]*Scenario{a, b}); err == nil || !strings.Contains(err.Error(), "two scenarios are named dns") {
		t.Errorf("duplicate names: err = %v", err)
	}
	if err := CheckNames([]*Scenario{a, {Name: "dns@100ms"}}); err != nil {
		t.Error(err)
	}
}

func TestSweep(t *testing.T) {
	s, err := Schema(schema(t))
	if err != nil {
		t.Fatal(err)
	}
	src := scenarioWith("{kind: dns_delay, start: 1s, end: 2s, delay: 300ms}") + "family: dns\nsweep: {field: delay, values: [100ms, 1s]}\n"
	sc, err := ParseScenario([]byte(src), s)
	if err != nil {
		t.Fatal(err)
	}
	scs, err := sc.Expand()
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) != 2 || scs[0].Name != "x@100ms" || scs[1].Name != "x@1s" || scs[1].Family != "dns" ||
		scs[1].Level != 1 || scs[1].Magnitude != "1s" || scs[0].Faults[0].Delay.D() != 100*time.Millisecond ||
		scs[1].Faults[0].Delay.D() != time.Second || scs[1].Sweep != nil || sc.Faults[0].Delay.D() != 300*time.Millisecond {
		t.Fatalf("expanded %+v / %+v", scs[0], scs[1])
	}
	if scs[0].Seed == scs[1].Seed {
		t.Error("the magnitudes share a seed")
	}
	for _, tc := range []struct{ sweep, want string }{
		{"{field: percent, values: [1, 2]}", "dns_delay does not take percent"},
		{"{field: delay, values: [1s]}", "at least two values"},
		{"{field: delay, values: [1s, soon]}", "sweep value soon"},
	} {
		bad := scenarioWith("{kind: dns_delay, start: 1s, end: 2s, delay: 300ms}") + "sweep: " + tc.sweep + "\n"
		_, err := ParseScenario([]byte(bad), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("sweep %s: err = %v, want %q", tc.sweep, err, tc.want)
		}
	}
}

func TestSteps(t *testing.T) {
	burst := Fault{Kind: "dns_delay", Start: Duration(time.Second), End: Duration(4 * time.Second), Delay: Duration(time.Second),
		Burst: &Burst{On: Duration(500 * time.Millisecond), Off: Duration(time.Second)}}
	var got [][2]time.Duration
	for _, st := range burst.steps() {
		got = append(got, [2]time.Duration{st.from, st.to})
	}
	want := [][2]time.Duration{{time.Second, 1500 * time.Millisecond}, {2500 * time.Millisecond, 3 * time.Second}, {4 * time.Second, 4 * time.Second}}
	if !slices.Equal(got[:2], want[:2]) || len(got) != 2 {
		t.Errorf("burst steps %v, want %v", got, want[:2])
	}
	ramp := Fault{Kind: "cpu_throttle", Start: 0, End: Duration(4 * time.Second), QuotaPct: 20, Ramp: 4}
	var quotas []int
	for _, st := range ramp.steps() {
		quotas = append(quotas, st.f.QuotaPct)
	}
	// From 100 % towards 20 %: 100 − 80·k/4 for k = 1..4.
	if !slices.Equal(quotas, []int{80, 60, 40, 20}) {
		t.Errorf("ramp quotas %v", quotas)
	}
	loss := Fault{Kind: "packet_loss", End: Duration(time.Second), Percent: 30, Ramp: 3}
	var pct []int
	for _, st := range loss.steps() {
		pct = append(pct, st.f.Percent)
	}
	if !slices.Equal(pct, []int{10, 20, 30}) {
		t.Errorf("ramp percents %v", pct)
	}
}

// TestSchemaAgreesWithKinds checks that the schema's per-kind rules say
// what faultKinds says: the same kinds, parameters and needs.
func TestSchemaAgreesWithKinds(t *testing.T) {
	var doc struct {
		Defs struct {
			Fault struct {
				Properties struct {
					Kind struct {
						Enum []string `json:"enum"`
					} `json:"kind"`
				} `json:"properties"`
				AllOf []struct {
					If struct {
						Properties struct {
							Kind struct {
								Const string `json:"const"`
							} `json:"kind"`
						} `json:"properties"`
					} `json:"if"`
					Then struct {
						PropertyNames struct {
							Enum []string `json:"enum"`
						} `json:"propertyNames"`
						Required []string                      `json:"required"`
						AnyOf    []struct{ Required []string } `json:"anyOf"`
					} `json:"then"`
				} `json:"allOf"`
			} `json:"fault"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(schema(t), &doc); err != nil {
		t.Fatal(err)
	}
	f := doc.Defs.Fault
	kinds := slices.Sorted(func(yield func(string) bool) {
		for k := range faultKinds {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(slices.Sorted(slices.Values(f.Properties.Kind.Enum)), kinds) {
		t.Errorf("schema kinds %v, want %v", f.Properties.Kind.Enum, kinds)
	}
	for _, rule := range f.AllOf {
		k := rule.If.Properties.Kind.Const
		spec := faultKinds[k]
		if want := append(slices.Clone(timelineParams), spec.params...); !slices.Equal(slices.Sorted(slices.Values(rule.Then.PropertyNames.Enum)), slices.Sorted(slices.Values(want))) {
			t.Errorf("%s: schema parameters %v, want %v", k, rule.Then.PropertyNames.Enum, want)
		}
		var needs []string
		needs = append(needs, rule.Then.Required...)
		for _, a := range rule.Then.AnyOf {
			needs = append(needs, a.Required...)
		}
		var want []string
		for _, g := range spec.needs {
			want = append(want, g...)
		}
		if !slices.Equal(needs, want) {
			t.Errorf("%s: schema needs %v, want %v", k, needs, want)
		}
	}
	if len(f.AllOf) != len(faultKinds) {
		t.Errorf("%d per-kind rules for %d kinds", len(f.AllOf), len(faultKinds))
	}
}
