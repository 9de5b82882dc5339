package benchstat_test

import (
	"fmt"

	"github.com/llmslo/slo/benchstat"
)

func ExampleCliffsDelta() {
	// Pairs (a, b): (1,2)< (1,4)< (2,2)= (2,4)< (3,2)> (3,4)<, so
	// δ = (1 − 4) / 6 = −0.5.
	a := []float64{1, 2, 3}
	b := []float64{2, 4}
	d := benchstat.CliffsDelta(a, b)
	fmt.Println(d, benchstat.EffectOf(d))
	fmt.Println(benchstat.CliffsDelta(b, a), benchstat.EffectOf(0.2), benchstat.EffectOf(0.1))
	// Output:
	// -0.5 large
	// 0.5 small negligible
}
