// Package benchstat compares `go test -bench` results and gates their
// overhead with robust, distribution-free statistics.
//
// It is NOT the deprecated golang.org/x/perf/benchstat package, nor a copy
// of the benchstat command: it reuses the x/perf benchmark-format parser
// ([golang.org/x/perf/benchfmt.Reader]) and follows x/perf benchmath's
// non-parametric defaults (benchmath AssumeNothing: medians, order-statistic
// confidence intervals, the Mann-Whitney U test at α = 0.05), so its
// medians, intervals and p-values agree with the benchstat command on the
// same input (tested against the command's output in testdata; the one
// deliberate difference is the exact p-value with tied values, see
// [MannWhitneyU]). On top it adds what an overhead claim needs: bootstrap
// confidence intervals of the ratio of medians (or of any percentile),
// Cliff's delta with its effect-size label, the coefficient of variation,
// and gates with a pass / fail / inconclusive verdict.
//
// # Parsing
//
// [Parse] and [ParseFiles] read benchmark output into [Results], grouped by
// package, full benchmark name and unit (sec/op, B/op, allocs/op, custom
// units). Malformed lines are skipped and listed in Results.Warnings.
//
// # Comparing
//
// [Compare] compares two result sets (two files, "before" and "after").
// [Results.Add] records values measured in-process (repeated
// testing.Benchmark calls). [CompareKey] compares sub-benchmark variants
// within one run, which is how
// this project measures its overhead: BenchmarkServe/impl=bare,
// BenchmarkServe/impl=slo and BenchmarkServe/impl=otelhttp run side by side
// in one `go test -count 10` process, so machine drift hits all of them
// alike. [CompareValues] compares two slices directly. Each yields a
// [Comparison]; a [Report] renders them as a table with
// [Report.WriteText] or [Report.WriteMarkdown].
//
// The statistics are also exported one by one: [Median], [Quantile],
// [QuantileCI], [Summarize], [MannWhitneyU], [Bootstrap], [CliffsDelta],
// [EffectOf] and [CV]. Means and standard deviations come from
// gonum.org/v1/gonum/stat, binomial coefficients and the normal
// distribution from gonum's combin and distuv packages.
//
// # Gates
//
// A [Gate] judges a comparison: it fails when the test side is
// significantly slower (U test p < Alpha) by more than MaxOverhead, and
// says [Inconclusive] instead of guessing when either side has fewer than
// MinSamples values or a coefficient of variation above MaxCV.
// [DefaultThresholds] is the gate the project applies to its own overhead
// claims (3 %, CV 10 %, 10 samples, α 0.05, on sec/op); Gate.Units and
// Gate.Labels choose what it judges (e.g. impl=slo but not impl=otelhttp). [GateResult.Err] returns a
// [*GateError] carrying the rendered table, so a test gates with
//
//	if err := benchstat.DefaultThresholds().CheckReport(rep).Err(); err != nil {
//		t.Fatal(err)
//	}
//
// The package does not import "testing".
//
// # Errors and warnings
//
// Small or degenerate samples never make a function fail: statistical
// caveats (too few samples for a finite interval or for the U test to reach
// α, high coefficient of variation, benchmarks present on one side only)
// are returned as Warnings []error next to the numbers, as benchmath does.
// Only I/O errors (wrapped with %w) and [ErrNoSamples] from [MannWhitneyU]
// on an empty sample are returned as errors; a failed gate is reported by
// [GateResult.Err] as a [*GateError].
//
// # Determinism and concurrency
//
// The bootstrap uses math/rand/v2's PCG seeded from
// [BootstrapOptions].Seed, so every result is a pure function of its input
// and options. Functions keep no state between calls and are safe for
// concurrent use; a [Results] must not be mutated concurrently.
//
// # Zero values
//
// [Options], [BootstrapOptions] and [Gate] zero values mean the documented
// defaults; a zero [Verdict] is [Inconclusive]; a zero [Effect] is
// [Negligible].
package benchstat
