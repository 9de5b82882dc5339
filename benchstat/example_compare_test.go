package benchstat_test

import (
	"fmt"
	"strings"

	"github.com/llmslo/slo/benchstat"
)

// Compare two runs: before and after a change, e.g. two files written by
// `go test -bench . -count 10`.
func ExampleCompare() {
	before, err := benchstat.Parse(strings.NewReader(`
BenchmarkDecode-8  1000  2010 ns/op
BenchmarkDecode-8  1000  1990 ns/op
BenchmarkDecode-8  1000  2000 ns/op
BenchmarkDecode-8  1000  2005 ns/op
BenchmarkDecode-8  1000  1995 ns/op
BenchmarkDecode-8  1000  2002 ns/op
`), "before.txt")
	if err != nil {
		fmt.Println(err)
		return
	}
	// Results can also be filled in-process.
	var after benchstat.Results
	after.Add("Decode-8", "ns/op", 1810, 1790, 1800, 1805, 1795, 1802)

	rep := benchstat.Compare(before, &after, "before", "after", benchstat.Options{})
	for _, c := range rep.Comparisons {
		fmt.Printf("%s %s: %.3gs → %.3gs, %+.1f%%, significant=%v, ratio CI [%.3f, %.3f]\n",
			c.Name, c.Unit, c.Base.Median, c.Test.Median, 100*c.Delta(), c.Significant(),
			c.Bootstrap.RatioLo, c.Bootstrap.RatioHi)
	}
	// Output:
	// Decode-8 sec/op: 2e-06s → 1.8e-06s, -10.0%, significant=true, ratio CI [0.895, 0.905]
}
