package benchstat_test

import (
	"fmt"

	"github.com/llmslo/slo/benchstat"
)

func ExampleSummarize() {
	// Sorted: 9 10 10 10 11 11 11 12 12 13. For n = 10 the 95 %
	// distribution-free interval of the median is [x(2), x(9)], with
	// coverage 1 − 2·11/1024.
	s := benchstat.Summarize([]float64{10, 12, 11, 13, 9, 10, 11, 12, 11, 10}, 0.95)
	fmt.Printf("median %v [%v, %v] at %.4f, CV %.3f\n", s.Median, s.Lo, s.Hi, s.Confidence, s.CV)
	fmt.Println(benchstat.Summarize([]float64{1, 2, 3}, 0.95).Warnings)
	// Output:
	// median 11 [10, 12] at 0.9785, CV 0.110
	// [need >= 6 samples for confidence interval at level 0.95, have 3]
}
