package benchstat

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Gate is an overhead gate for comparisons: it passes when the test side
// is at most MaxOverhead worse than the base side, fails when it is
// significantly worse than that, and is inconclusive when the samples are
// too few or too noisy to tell.
//
// Each zero field takes its value from [DefaultThresholds]. A Gate is a
// value; it is safe for concurrent use.
type Gate struct {
	// MaxOverhead is the largest tolerated relative slowdown of the median
	// (0.03 = 3 %). For higher-is-better units (B/s) the overhead is
	// base/test − 1. 0 means the default (0.03); a negative value never
	// fails on overhead.
	MaxOverhead float64
	// MaxCV is the largest coefficient of variation of either sample for
	// a conclusive verdict. 0 means the default (0.10); negative disables.
	MaxCV float64
	// MinSamples is the smallest sample size of either side for a
	// conclusive verdict. 0 means the default (10).
	MinSamples int
	// Alpha is the significance level of the U test. 0 means 0.05.
	Alpha float64
	// Units lists the units the gate applies to; comparisons in other
	// units are not gated. nil means only "sec/op".
	Units []string
	// Labels lists the test-side labels (Comparison.TestLabel) the gate
	// applies to, e.g. ["slo"] to gate impl=slo against impl=bare while
	// impl=otelhttp is only reported. nil means every label.
	Labels []string
	// Strict requires, for a pass, that the upper bound of the bootstrap
	// confidence interval of the overhead (Comparison.Bootstrap: of the
	// medians unless Options.Bootstrap.Quantile says otherwise) is within
	// MaxOverhead; when it is not (and the check does not fail), the
	// verdict is inconclusive.
	Strict bool
}

// DefaultThresholds returns the gate the project uses for its own overhead
// claims: MaxOverhead 0.03, MaxCV 0.10, MinSamples 10, Alpha 0.05, on
// sec/op.
func DefaultThresholds() Gate {
	return Gate{MaxOverhead: 0.03, MaxCV: 0.10, MinSamples: 10, Alpha: 0.05, Units: []string{"sec/op"}}
}

func (g Gate) withDefaults() Gate {
	d := DefaultThresholds()
	if g.MaxOverhead == 0 {
		g.MaxOverhead = d.MaxOverhead
	}
	if g.MaxCV == 0 {
		g.MaxCV = d.MaxCV
	}
	if g.MinSamples <= 0 {
		g.MinSamples = d.MinSamples
	}
	if g.Alpha <= 0 || g.Alpha >= 1 {
		g.Alpha = d.Alpha
	}
	if g.Units == nil {
		g.Units = d.Units
	}
	return g
}

// Applies reports whether [Gate.CheckReport] judges c: its unit is in
// Units and its test label in Labels.
func (g Gate) Applies(c Comparison) bool {
	g = g.withDefaults()
	return slices.Contains(g.Units, c.Unit) && (g.Labels == nil || slices.Contains(g.Labels, c.TestLabel))
}

// Verdict is the outcome of a gate. The zero value is Inconclusive: no
// evidence either way.
type Verdict int

// Verdicts.
const (
	Inconclusive Verdict = iota
	Pass
	Fail
)

// String returns "inconclusive", "pass" or "fail".
func (v Verdict) String() string {
	switch v {
	case Inconclusive:
		return "inconclusive"
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// A Decision is a gate's verdict on one comparison.
type Decision struct {
	Comparison Comparison
	Verdict    Verdict
	// Overhead is the relative slowdown of the median (see
	// Gate.MaxOverhead), +Inf from a zero base median to a worse non-zero
	// one (0 → 1 allocs/op); OverheadLo and OverheadHi bound its bootstrap
	// confidence interval (NaN when undefined).
	Overhead, OverheadLo, OverheadHi float64
	// Reason explains the verdict in a few words.
	Reason string
}

// Check judges one comparison, in this order:
//   - inconclusive when either side has fewer than MinSamples values or a
//     coefficient of variation above MaxCV (never a failure: more or
//     quieter runs are needed);
//   - fail when the U test is significant at Alpha and the overhead of the
//     median exceeds MaxOverhead;
//   - with Strict, inconclusive when the bootstrap interval's upper bound
//     exceeds MaxOverhead;
//   - pass otherwise.
//
// Check does not look at Units or Labels; see [Gate.CheckReport].
func (g Gate) Check(c Comparison) Decision {
	g = g.withDefaults()
	d := Decision{Comparison: c}
	d.Overhead, d.OverheadLo, d.OverheadHi = overhead(c)
	p := c.UTest.P
	switch {
	case c.Base.N < g.MinSamples || c.Test.N < g.MinSamples:
		d.Reason = fmt.Sprintf("n=%d+%d < %d samples", c.Base.N, c.Test.N, g.MinSamples)
	case g.MaxCV > 0 && (c.Base.CV > g.MaxCV || c.Test.CV > g.MaxCV || math.IsNaN(c.Base.CV) || math.IsNaN(c.Test.CV)):
		d.Reason = fmt.Sprintf("CV %s/%s > %s", pct(c.Base.CV), pct(c.Test.CV), pct(g.MaxCV))
	case math.IsNaN(d.Overhead):
		d.Reason = "overhead undefined (zero or missing median)"
	case p < g.Alpha && g.MaxOverhead >= 0 && d.Overhead > g.MaxOverhead:
		d.Verdict = Fail
		d.Reason = fmt.Sprintf("%s > %s (p=%.3f)", signedPct(d.Overhead), pct(g.MaxOverhead), p)
	case g.Strict && g.MaxOverhead >= 0 && !(d.OverheadHi <= g.MaxOverhead):
		d.Reason = fmt.Sprintf("CI upper %s > %s", signedPct(d.OverheadHi), pct(g.MaxOverhead))
	case p >= g.Alpha:
		d.Verdict = Pass
		d.Reason = fmt.Sprintf("no significant difference (p=%.3f)", p)
	default:
		d.Verdict = Pass
		d.Reason = fmt.Sprintf("%s ≤ %s", signedPct(d.Overhead), pct(g.MaxOverhead))
	}
	return d
}

// overhead returns the relative slowdown and its bootstrap interval,
// oriented so that positive is worse.
func overhead(c Comparison) (oh, lo, hi float64) {
	b := c.Bootstrap
	if c.Base.Median == 0 && c.Test.Median != 0 && !math.IsNaN(c.Test.Median) && c.Base.N > 0 {
		// From zero to something: e.g. 0 → 1 allocs/op is an unbounded
		// relative regression (or, for higher-is-better units, a gain).
		nan := math.NaN()
		worse := (c.Test.Median > 0) == (c.Better <= 0)
		if worse {
			return math.Inf(1), nan, nan
		}
		return -1, nan, nan
	}
	if c.Better > 0 {
		inv := func(r float64) float64 {
			if r == 0 || math.IsNaN(r) {
				return math.NaN()
			}
			return 1/r - 1
		}
		return inv(c.Ratio), inv(b.RatioHi), inv(b.RatioLo)
	}
	return c.Ratio - 1, b.RatioLo - 1, b.RatioHi - 1
}

// GateResult is the outcome of a gate over a report.
//
// The zero value has no decisions and the Inconclusive verdict.
type GateResult struct {
	// Gate is the gate applied, with defaults filled in.
	Gate Gate
	// Decisions holds one entry per gated comparison.
	Decisions []Decision
	// Warnings are the report's warnings plus those of the gated
	// comparisons.
	Warnings []error
}

// CheckReport applies the gate to every comparison it applies to (see
// [Gate.Applies]).
func (g Gate) CheckReport(r Report) GateResult {
	g = g.withDefaults()
	res := GateResult{Gate: g}
	res.Warnings = append(res.Warnings, r.Warnings...)
	for _, c := range r.Comparisons {
		if !g.Applies(c) {
			continue
		}
		res.Decisions = append(res.Decisions, g.Check(c))
		for _, w := range c.Warnings {
			res.Warnings = append(res.Warnings, fmt.Errorf("%s %s %s vs %s: %w", displayName(c.Name), c.Unit, c.TestLabel, c.BaseLabel, w))
		}
	}
	return res
}

// Verdict is Fail if any decision failed, else Inconclusive if any was
// inconclusive or there were none, else Pass.
func (r GateResult) Verdict() Verdict {
	if len(r.Decisions) == 0 {
		return Inconclusive
	}
	v := Pass
	for _, d := range r.Decisions {
		switch d.Verdict {
		case Fail:
			return Fail
		case Inconclusive:
			v = Inconclusive
		}
	}
	return v
}

// Err returns a *[GateError] when any decision failed, else nil. An
// inconclusive result is not an error. Tests can gate with
//
//	if err := gate.CheckReport(rep).Err(); err != nil { t.Fatal(err) }
func (r GateResult) Err() error {
	var failed []Decision
	for _, d := range r.Decisions {
		if d.Verdict == Fail {
			failed = append(failed, d)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	var b strings.Builder
	_ = r.WriteText(&b) // a strings.Builder does not fail
	return &GateError{Failed: failed, Table: b.String()}
}

// GateError reports failed gate decisions, with the full table.
type GateError struct {
	// Failed lists the failing decisions.
	Failed []Decision
	// Table is the rendered gate table (see [GateResult.WriteText]).
	Table string
}

// Error returns a one-line summary followed by the table.
func (e *GateError) Error() string {
	names := make([]string, 0, len(e.Failed))
	for _, d := range e.Failed {
		names = append(names, displayName(d.Comparison.Name)+" "+d.Comparison.TestLabel)
	}
	return fmt.Sprintf("benchstat gate failed for %s\n%s", strings.Join(names, ", "), e.Table)
}
