package benchstat_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/llmslo/slo/benchstat"
)

func ExampleGate() {
	base := []float64{100, 101, 99, 100.5, 99.5, 100.2, 99.8, 100.1, 99.9, 100.3}
	slower := []float64{110, 111, 109, 110.5, 109.5, 110.2, 109.8, 110.1, 109.9, 110.3}
	few := []float64{150, 151, 149}

	gate := benchstat.Gate{MaxOverhead: 0.03, MaxCV: 0.10, MinSamples: 10, Alpha: 0.05}
	for _, test := range [][]float64{base, slower, few} {
		d := gate.Check(benchstat.CompareValues(base, test, benchstat.Options{}))
		fmt.Printf("%v: %s\n", d.Verdict, d.Reason)
	}
	// Output:
	// pass: no significant difference (p=1.000)
	// fail: +10.0% > 3.0% (p=0.000)
	// inconclusive: n=10+3 < 10 samples
}

// A test gates its benchmark results with GateResult.Err, which carries
// the whole table: t.Fatal(err) prints it.
func ExampleGateResult_Err() {
	c := benchstat.CompareValues(
		[]float64{100, 101, 99, 100.5, 99.5, 100.2, 99.8, 100.1, 99.9, 100.3},
		[]float64{110, 111, 109, 110.5, 109.5, 110.2, 109.8, 110.1, 109.9, 110.3},
		benchstat.Options{})
	c.Name, c.Unit, c.BaseLabel, c.TestLabel = "Serve-8", "sec/op", "bare", "slo"

	res := benchstat.DefaultThresholds().CheckReport(benchstat.Report{Comparisons: []benchstat.Comparison{c}})
	err := res.Err()
	var ge *benchstat.GateError
	fmt.Println(res.Verdict(), errors.As(err, &ge), len(ge.Failed))
	_ = res.WriteText(os.Stdout)
	// Output:
	// fail true 1
	// benchmark  unit    base  test  overhead  95% CI           p      n   max CV  verdict  reason
	// Serve-8    sec/op  bare  slo   +10.0%    [+9.5%, +10.5%]  0.000  10  0.5%    FAIL     +10.0% > 3.0% (p=0.000)
	// gate: max overhead 3.0%, max CV 10.0%, min samples 10, alpha 0.05: FAIL
}
