package benchstat

import (
	"fmt"
	"math"
)

// Options configures a comparison. The zero value is the documented
// default for every field.
type Options struct {
	// Alpha is the significance level of the Mann-Whitney U test.
	// 0 means 0.05, as the benchstat command.
	Alpha float64
	// Confidence is the level of the median confidence intervals.
	// 0 means 0.95.
	Confidence float64
	// WarnCV adds a warning when a sample's coefficient of variation
	// exceeds it. 0 means 0.10; a negative value disables the warning.
	WarnCV float64
	// Bootstrap configures the bootstrap interval of the ratio of
	// medians (or of another quantile). Its zero value is usable.
	Bootstrap BootstrapOptions
}

func (o Options) withDefaults() Options {
	if o.Alpha <= 0 || o.Alpha >= 1 {
		o.Alpha = 0.05
	}
	if o.Confidence <= 0 || o.Confidence >= 1 {
		o.Confidence = 0.95
	}
	if o.WarnCV == 0 {
		o.WarnCV = 0.10
	}
	if o.Bootstrap.Confidence == 0 {
		o.Bootstrap.Confidence = o.Confidence
	}
	o.Bootstrap = o.Bootstrap.withDefaults()
	return o
}

// A Comparison compares one benchmark, in one unit, between a base
// sample and a test sample.
//
// The zero value is an empty comparison with no samples.
type Comparison struct {
	// Pkg, Name and Unit identify the benchmark (see [Sample]).
	Pkg, Name, Unit string
	// BaseLabel and TestLabel name the two sides, e.g. "bare" and
	// "otelhttp" or two file names.
	BaseLabel, TestLabel string
	// Better is +1 when higher values are better, −1 when lower are, 0
	// when unknown.
	Better int
	// Base and Test summarize the two samples.
	Base, Test Summary
	// Ratio is Test.Median / Base.Median: 1 when both are 0, NaN when
	// only Base.Median is 0 or a side is empty.
	Ratio float64
	// Bootstrap holds the bootstrap intervals of the ratio and difference
	// of the compared quantile (the median by default).
	Bootstrap BootstrapResult
	// UTest is the Mann-Whitney U test of Base against Test.
	UTest UTest
	// Alpha is the significance level used by [Comparison.Significant].
	Alpha float64
	// CliffsDelta is Cliff's delta of Test relative to Base: positive
	// when Test values tend to be larger. Effect is its label.
	CliffsDelta float64
	Effect      Effect
	// Warnings lists caveats: too few samples for a finite interval or
	// for the U test to reach Alpha, high coefficient of variation.
	Warnings []error
}

// Significant reports whether the U test rejects "no difference" at
// Alpha (p < Alpha).
func (c Comparison) Significant() bool { return c.UTest.P < c.Alpha }

// Delta returns Ratio − 1: the relative change of the median, e.g. 0.054
// for +5.4 %.
func (c Comparison) Delta() float64 { return c.Ratio - 1 }

// CompareValues compares two samples of measurements: base and test.
// It never fails: empty or small samples yield NaN fields and warnings.
// Inputs are not modified.
func CompareValues(base, test []float64, o Options) Comparison {
	o = o.withDefaults()
	c := Comparison{
		Base:        Summarize(base, o.Confidence),
		Test:        Summarize(test, o.Confidence),
		Alpha:       o.Alpha,
		CliffsDelta: CliffsDelta(test, base),
		Ratio:       math.NaN(),
	}
	c.Effect = EffectOf(c.CliffsDelta)
	switch {
	case c.Base.Median != 0 && !math.IsNaN(c.Base.Median):
		c.Ratio = c.Test.Median / c.Base.Median
	case c.Base.Median == 0 && c.Test.Median == 0:
		c.Ratio = 1
	}
	c.Bootstrap = Bootstrap(base, test, o.Bootstrap)
	c.Warnings = append(c.Warnings, prefixErrs("base", c.Base.Warnings)...)
	c.Warnings = append(c.Warnings, prefixErrs("test", c.Test.Warnings)...)
	u, err := MannWhitneyU(base, test)
	c.UTest = u
	if err != nil {
		c.Warnings = append(c.Warnings, fmt.Errorf("u-test: %w", err))
	} else if u.P >= o.Alpha {
		if need := minSamplesForU(o.Alpha); u.N1 < need && u.N2 < need {
			c.Warnings = append(c.Warnings, fmt.Errorf("need >= %d samples to detect a difference at alpha level %v", need, o.Alpha))
		}
	}
	if o.WarnCV > 0 {
		for _, s := range []struct {
			side string
			sum  Summary
		}{{"base", c.Base}, {"test", c.Test}} {
			if s.sum.CV > o.WarnCV {
				c.Warnings = append(c.Warnings, fmt.Errorf("%s: coefficient of variation %.1f%% > %.1f%%", s.side, 100*s.sum.CV, 100*o.WarnCV))
			}
		}
	}
	return c
}

// minSamplesForU returns the smallest n such that two samples of n values
// can reach p ≤ alpha in the exact two-sided U test: the minimum p is
// 2/C(2n, n).
func minSamplesForU(alpha float64) int {
	for n := 1; n <= 50; n++ {
		if 2/chooseF(2*n, n) <= alpha {
			return n
		}
	}
	return 51
}

func prefixErrs(prefix string, errs []error) []error {
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		out = append(out, fmt.Errorf("%s: %w", prefix, e))
	}
	return out
}

// A Report is the list of comparisons of two result sets.
//
// The zero value is an empty report.
type Report struct {
	// Comparisons are in order of first appearance in the base set.
	Comparisons []Comparison
	// Warnings lists parser warnings and benchmarks present on one
	// side only.
	Warnings []error
}

// Compare compares every (package, benchmark, unit) present in both base
// and test, labelled baseLabel and testLabel. Samples present on one side
// only are listed in Report.Warnings.
func Compare(base, test *Results, baseLabel, testLabel string, o Options) Report {
	var rep Report
	if base == nil {
		base = &Results{}
	}
	if test == nil {
		test = &Results{}
	}
	rep.Warnings = append(rep.Warnings, base.Warnings...)
	if test != base {
		rep.Warnings = append(rep.Warnings, test.Warnings...)
	}
	for _, bs := range base.samples {
		i, ok := test.index[sampleKey{bs.Pkg, bs.Name, bs.Unit}]
		if !ok {
			rep.Warnings = append(rep.Warnings, fmt.Errorf("%s %s: %w (no %q)", bs.Name, bs.Unit, ErrUnmatched, testLabel))
			continue
		}
		ts := test.samples[i]
		c := CompareValues(bs.Values, ts.Values, o)
		c.Pkg, c.Name, c.Unit, c.Better = bs.Pkg, bs.Name, bs.Unit, bs.Better
		c.BaseLabel, c.TestLabel = baseLabel, testLabel
		rep.Comparisons = append(rep.Comparisons, c)
	}
	for _, ts := range test.samples {
		if _, ok := base.index[sampleKey{ts.Pkg, ts.Name, ts.Unit}]; !ok {
			rep.Warnings = append(rep.Warnings, fmt.Errorf("%s %s: %w (no %q)", ts.Name, ts.Unit, ErrUnmatched, baseLabel))
		}
	}
	return rep
}

// CompareKey compares sub-benchmark variants within one result set: for
// every value v ≠ base of the sub-benchmark key (see [Results.Keys]), it
// compares r.Select(key, base) with r.Select(key, v). This is the mode for
// implementations measured side by side in one run, e.g.
// BenchmarkServe/impl=bare against BenchmarkServe/impl=otelhttp with
// key "impl" and base "bare". An empty base means the first value seen.
// When base does not occur, the report holds no comparisons and a warning.
func CompareKey(r *Results, key, base string, o Options) Report {
	keys := r.Keys(key)
	if base == "" && len(keys) > 0 {
		base = keys[0]
	}
	var rep Report
	if r != nil {
		rep.Warnings = append(rep.Warnings, r.Warnings...)
	}
	if !containsStr(keys, base) {
		rep.Warnings = append(rep.Warnings, fmt.Errorf("no benchmark has /%s=%s (values: %v)", key, base, keys))
		return rep
	}
	bres := r.Select(key, base)
	for _, v := range keys {
		if v == base {
			continue
		}
		sub := Compare(bres, r.Select(key, v), base, v, o)
		rep.Comparisons = append(rep.Comparisons, sub.Comparisons...)
		rep.Warnings = append(rep.Warnings, sub.Warnings...)
	}
	return rep
}

func containsStr(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
