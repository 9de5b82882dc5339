package benchstat_test

import (
	"fmt"

	"github.com/llmslo/slo/benchstat"
)

// The bootstrap interval of the ratio of p90 latencies, deterministic for a
// given seed.
func ExampleBootstrap() {
	base := []float64{10, 11, 12, 10.5, 11.5, 10.2, 11.1, 10.9, 11.3, 10.7, 13.0, 10.1}
	test := []float64{11, 12, 13, 11.5, 12.5, 11.2, 12.1, 11.9, 12.3, 11.7, 14.2, 11.0}
	r := benchstat.Bootstrap(base, test, benchstat.BootstrapOptions{Quantile: 0.9, Seed: 1})
	fmt.Printf("p90 ratio %.3f, 95%% CI [%.3f, %.3f] from %d resamples\n", r.Ratio, r.RatioLo, r.RatioHi, r.Resamples)
	// Output:
	// p90 ratio 1.087, 95% CI [0.962, 1.235] from 10000 resamples
}
