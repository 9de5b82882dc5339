package benchstat_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/llmslo/slo/benchstat"
)

// Two implementations benchmarked side by side in one run, as sub-benchmarks
// BenchmarkServe/impl=bare and BenchmarkServe/impl=slo.
const sideBySide = `goos: linux
pkg: example.com/server
BenchmarkServe/impl=bare-8  1000000  1510 ns/op  512 B/op  7 allocs/op
BenchmarkServe/impl=slo-8   1000000  1540 ns/op  768 B/op  11 allocs/op
BenchmarkServe/impl=bare-8  1000000  1490 ns/op  512 B/op  7 allocs/op
BenchmarkServe/impl=slo-8   1000000  1535 ns/op  768 B/op  11 allocs/op
BenchmarkServe/impl=bare-8  1000000  1502 ns/op  512 B/op  7 allocs/op
BenchmarkServe/impl=slo-8   1000000  1529 ns/op  768 B/op  11 allocs/op
BenchmarkServe/impl=bare-8  1000000  1498 ns/op  512 B/op  7 allocs/op
BenchmarkServe/impl=slo-8   1000000  1551 ns/op  768 B/op  11 allocs/op
BenchmarkServe/impl=bare-8  1000000  1505 ns/op  512 B/op  7 allocs/op
BenchmarkServe/impl=slo-8   1000000  1538 ns/op  768 B/op  11 allocs/op
BenchmarkServe/impl=bare-8  1000000  1495 ns/op  512 B/op  7 allocs/op
BenchmarkServe/impl=slo-8   1000000  1544 ns/op  768 B/op  11 allocs/op
`

func ExampleCompareKey() {
	res, err := benchstat.Parse(strings.NewReader(sideBySide), "bench.txt")
	if err != nil {
		fmt.Println(err)
		return
	}
	rep := benchstat.CompareKey(res, "impl", "bare", benchstat.Options{})
	for _, c := range rep.Comparisons {
		fmt.Printf("%s %s: %+.1f%% p=%.3f δ=%+.2f (%v)\n",
			c.Name, c.Unit, 100*c.Delta(), c.UTest.P, c.CliffsDelta, c.Effect)
	}
	_ = rep.WriteText(os.Stdout)
	// Output:
	// Serve-8 sec/op: +2.6% p=0.002 δ=+1.00 (large)
	// Serve-8 B/op: +50.0% p=0.002 δ=+1.00 (large)
	// Serve-8 allocs/op: +57.1% p=0.002 δ=+1.00 (large)
	// benchmark  unit       base  test  base median  test median  change   ratio CI        p      n  cliff's δ    CV base  CV test
	// Serve-8    sec/op     bare  slo   1.500µ ± 1%  1.539µ ± 1%  +2.60%   [1.020, 1.033]  0.002  6  +1.00 large  0.5%     0.5%
	// Serve-8    B/op       bare  slo   512.0 ± 0%   768.0 ± 0%   +50.00%  [1.500, 1.500]  0.002  6  +1.00 large  0.0%     0.0%
	// Serve-8    allocs/op  bare  slo   7.000 ± 0%   11.00 ± 0%   +57.14%  [1.571, 1.571]  0.002  6  +1.00 large  0.0%     0.0%
}
