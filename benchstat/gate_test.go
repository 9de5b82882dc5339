package benchstat

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// spread returns n values center·(1 + rel·z) for fixed, symmetric z.
func spread(center, rel float64, n int) []float64 {
	z := []float64{-1.5, -1, -0.6, -0.3, -0.1, 0.1, 0.3, 0.6, 1, 1.5, -1.2, 1.2, -0.8, 0.8, 0}
	out := make([]float64, n)
	for i := range out {
		out[i] = center * (1 + rel*z[i%len(z)])
	}
	return out
}

func TestGateCheck(t *testing.T) {
	tests := []struct {
		name       string
		gate       Gate
		base, test []float64
		better     int
		want       Verdict
		reason     string // substring
	}{
		{"significant overhead over budget", Gate{}, spread(100, 0.01, 10), spread(110, 0.01, 10), -1, Fail, "+10.0% > 3.0%"},
		{"significant but within budget", Gate{}, spread(100, 0.005, 10), spread(101.5, 0.005, 10), -1, Pass, "+1.5% ≤ 3.0%"},
		{"no difference", Gate{}, spread(100, 0.01, 10), spread(100, 0.0101, 10), -1, Pass, "no significant difference"},
		{"faster is fine", Gate{}, spread(100, 0.01, 10), spread(80, 0.01, 10), -1, Pass, "-20.0% ≤ 3.0%"},
		{"too few samples never fails", Gate{}, spread(100, 0.01, 5), spread(200, 0.01, 5), -1, Inconclusive, "n=5+5 < 10"},
		{"custom MinSamples", Gate{MinSamples: 5}, spread(100, 0.01, 5), spread(200, 0.01, 5), -1, Fail, "> 3.0%"},
		{"too noisy", Gate{}, spread(100, 0.2, 10), spread(150, 0.2, 10), -1, Inconclusive, "CV"},
		{"CV check disabled", Gate{MaxCV: -1}, spread(100, 0.2, 10), spread(150, 0.2, 10), -1, Fail, "> 3.0%"},
		{"overhead check disabled", Gate{MaxOverhead: -1}, spread(100, 0.01, 10), spread(110, 0.01, 10), -1, Pass, ""},
		{"looser budget", Gate{MaxOverhead: 0.15}, spread(100, 0.01, 10), spread(110, 0.01, 10), -1, Pass, "≤ 15.0%"},
		{"strict: CI reaches past budget", Gate{Strict: true, MaxOverhead: 0.03}, spread(100, 0.02, 10), spread(102.5, 0.02, 10), -1, Inconclusive, "CI upper"},
		{"strict: CI within budget", Gate{Strict: true, MaxOverhead: 0.05}, spread(100, 0.005, 15), spread(101, 0.005, 15), -1, Pass, ""},
		{"higher is better: throughput drop", Gate{}, spread(100, 0.01, 10), spread(90, 0.01, 10), 1, Fail, "+11.1% > 3.0%"},
		{"higher is better: throughput gain", Gate{}, spread(100, 0.01, 10), spread(110, 0.01, 10), 1, Pass, ""},
		{"zero to one alloc", Gate{}, spread(0, 0, 10), spread(1, 0, 10), -1, Fail, "+Inf% > 3.0%"},
		{"zero stays zero", Gate{}, spread(0, 0, 10), spread(0, 0, 10), -1, Pass, "no significant difference"},
		{"zero to one, higher is better", Gate{}, spread(0, 0, 10), spread(1, 0, 10), 1, Pass, "-100.0%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := CompareValues(tt.base, tt.test, Options{})
			c.Better = tt.better
			d := tt.gate.Check(c)
			if d.Verdict != tt.want || !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("verdict %v (%s), want %v (%q)", d.Verdict, d.Reason, tt.want, tt.reason)
			}
			if d.Verdict != Fail && d.Verdict != Inconclusive && d.Verdict != Pass {
				t.Errorf("bad verdict %d", d.Verdict)
			}
		})
	}
}

func TestGateDefaults(t *testing.T) {
	want := Gate{MaxOverhead: 0.03, MaxCV: 0.10, MinSamples: 10, Alpha: 0.05, Units: []string{"sec/op"}}
	if diff := cmp.Diff(want, DefaultThresholds()); diff != "" {
		t.Errorf("DefaultThresholds (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, Gate{}.withDefaults()); diff != "" {
		t.Errorf("zero Gate (-want +got):\n%s", diff)
	}
	sec := Comparison{Unit: "sec/op", TestLabel: "slo"}
	bop := Comparison{Unit: "B/op", TestLabel: "slo"}
	otel := Comparison{Unit: "sec/op", TestLabel: "otelhttp"}
	if !(Gate{}).Applies(sec) || (Gate{}).Applies(bop) || !(Gate{Units: []string{"B/op"}}).Applies(bop) ||
		!(Gate{}).Applies(otel) || (Gate{Labels: []string{"slo"}}).Applies(otel) || !(Gate{Labels: []string{"slo"}}).Applies(sec) {
		t.Error("Applies")
	}
	if Verdict(0) != Inconclusive || Verdict(7).String() != "Verdict(7)" {
		t.Error("Verdict zero value / String")
	}
}

func TestGateResult(t *testing.T) {
	mk := func(name string, base, test []float64, unit string) Comparison {
		c := CompareValues(base, test, Options{})
		c.Name, c.Unit, c.BaseLabel, c.TestLabel, c.Better = name, unit, "bare", "slo", -1
		return c
	}
	pass := mk("Pass-2", spread(100, 0.01, 10), spread(100.5, 0.01, 10), "sec/op")
	fail := mk("Fail-2", spread(100, 0.01, 10), spread(120, 0.01, 10), "sec/op")
	small := mk("Small-2", spread(100, 0.01, 4), spread(120, 0.01, 4), "sec/op")
	allocs := mk("Fail-2", spread(10, 0, 10), spread(20, 0, 10), "allocs/op")

	tests := []struct {
		name  string
		comps []Comparison
		want  Verdict
		n     int
	}{
		{"empty", nil, Inconclusive, 0},
		{"pass", []Comparison{pass}, Pass, 1},
		{"fail wins", []Comparison{pass, small, fail}, Fail, 3},
		{"inconclusive beats pass", []Comparison{pass, small}, Inconclusive, 2},
		{"other units not gated", []Comparison{pass, allocs}, Pass, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := DefaultThresholds().CheckReport(Report{Comparisons: tt.comps})
			if res.Verdict() != tt.want || len(res.Decisions) != tt.n {
				t.Errorf("verdict %v with %d decisions, want %v with %d", res.Verdict(), len(res.Decisions), tt.want, tt.n)
			}
			err := res.Err()
			if (err != nil) != (tt.want == Fail) {
				t.Fatalf("Err() = %v", err)
			}
			if err == nil {
				return
			}
			var ge *GateError
			if !errors.As(err, &ge) || len(ge.Failed) != 1 || ge.Failed[0].Comparison.Name != "Fail-2" {
				t.Fatalf("Err() = %#v", err)
			}
			msg := err.Error()
			for _, want := range []string{"gate failed for Fail-2 slo", "FAIL", "PASS", "INCONCLUSIVE", "overhead"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error message lacks %q:\n%s", want, msg)
				}
			}
		})
	}
}
