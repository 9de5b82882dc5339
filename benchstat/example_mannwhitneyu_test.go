package benchstat_test

import (
	"fmt"

	"github.com/llmslo/slo/benchstat"
)

// The textbook example of Hollander and Wolfe (1973, p. 69), also in R's
// ?wilcox.test: W = 35, one-sided p = 0.1272, so two-sided p = 0.2544.
func ExampleMannWhitneyU() {
	x := []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46}
	y := []float64{1.15, 0.88, 0.90, 0.74, 1.21}
	u, err := benchstat.MannWhitneyU(x, y)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("U=%v p=%.4f exact=%v\n", u.U, u.P, u.Exact)
	// Output:
	// U=35 p=0.2544 exact=true
}
