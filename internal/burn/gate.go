package burn

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// DefaultMinCoverage is the share of each of a rule's windows that
// [DefaultGate] wants observed before the rule may hold: half, so that the
// long window still spans six short windows (the long window is twelve short
// ones) and keeps its purpose of telling a lasting burn from a blip
// (docs/slo-state.md, "Coverage").
const DefaultMinCoverage = 0.5

// AutoMinEvents, as [Gate.MinEvents], asks each rule for [Rule.MinEvents]
// requests in its long window.
const AutoMinEvents = -1

// maxMinEvents bounds a derived minimum (a target a hair under 1 would ask
// for more requests than any window holds).
const maxMinEvents = 1 << 40

// Gate is what a rule needs, besides burn rates over its factor, to hold:
// enough of each of its windows observed, and enough requests in its long
// window. The zero value asks for nothing: burn rates alone decide.
type Gate struct {
	// MinCoverage is the share of each window of a rule that must have been
	// observed ([Series.Coverage]) for the window to count. Without Partial,
	// a rule with a window covered less is undecided: it keeps the state it
	// had at the previous evaluation (none, for a series that just started),
	// unless its other window is covered and at or under the factor. 0 asks
	// for nothing; at most 1.
	MinCoverage float64
	// MinEvents is the number of requests the long window of a rule must
	// hold for the rule to hold: AutoMinEvents asks each rule for
	// [Rule.MinEvents] of the series' target; 0 or 1 asks for nothing more
	// than the burn rates do.
	MinEvents int64
	// Partial lets a window covered less than MinCoverage count when its
	// burn rate times its coverage exceeds the rule's factor: the bad
	// requests already seen then spend at least the share of the budget that
	// the rule stands for over its whole window, even if the unobserved
	// rest spent nothing. The threshold is factor/coverage: twice the factor
	// at half coverage, out of reach below factor × (1 − target) (a total
	// outage on a 99% objective needs 8.64 minutes of a 1h window for
	// factor 14.4).
	Partial bool
}

// DefaultGate returns the gate a tracker uses unless configured otherwise:
// [DefaultMinCoverage] and [AutoMinEvents], without Partial.
func DefaultGate() Gate { return Gate{MinCoverage: DefaultMinCoverage, MinEvents: AutoMinEvents} }

// validate reports a gate that cannot work.
func (g Gate) validate() error {
	if !(g.MinCoverage >= 0 && g.MinCoverage <= 1) {
		return fmt.Errorf("burn: minimum coverage %v outside [0, 1]: %w", g.MinCoverage, errInvalidRule)
	}
	if g.MinEvents < AutoMinEvents {
		return fmt.Errorf("burn: minimum events %d: %w", g.MinEvents, errInvalidRule)
	}
	return nil
}

// MinEventsOf returns the number of requests r's long window must hold
// under g on an objective of target: g.MinEvents, or r's own minimum when
// g asks for [AutoMinEvents].
func (g Gate) MinEventsOf(r Rule, target float64) int64 {
	if g.MinEvents == AutoMinEvents {
		return r.MinEvents(target)
	}
	return g.MinEvents
}

// ErrorBudget returns 1 − target without the binary noise of the
// subtraction (1 − 0.999 is 0.0010000000000000009 in float64): the error
// budget the Prometheus rules write and the minimum events derive from.
func ErrorBudget(target float64) float64 {
	return math.Round((1-target)*1e12) / 1e12
}

// MinEvents returns the fewest requests r's long window must hold so that a
// single bad request cannot make r hold on an objective of target:
// ⌈1/(Factor × (1 − target))⌉, at least 1. With n requests, one bad one is
// a bad share of 1/n, which exceeds Factor × (1 − target) exactly when n is
// under that bound. For the [DefaultRules]: 7, 17 and 100 at 99 %; 70, 167
// and 1000 at 99.9 %.
func (r Rule) MinEvents(target float64) int64 {
	b := ErrorBudget(target)
	if !(r.Factor > 0 && b > 0) {
		return 1
	}
	n := math.Ceil(1/(r.Factor*b) - 1e-9)
	switch {
	case !(n >= 1):
		return 1
	case n > maxMinEvents:
		return maxMinEvents
	}
	return int64(n)
}

// Verdict is the state of one rule at one evaluation.
type Verdict uint8

// The verdicts.
const (
	// Clear: a window whose coverage counts has a burn rate at or under the
	// factor (or no traffic); the rule does not hold.
	Clear Verdict = iota
	// Holds: both windows count and exceed the factor, and the long window
	// holds enough requests.
	Holds
	// Uncovered: a window is covered less than the gate asks and neither
	// window says Clear; the rule keeps the state it had.
	Uncovered
	// TooFew: both windows exceed the factor, but the long window holds
	// fewer requests than the gate asks; the rule does not hold.
	TooFew
)

// String returns "clear", "holds", "uncovered" or "too few requests".
func (v Verdict) String() string {
	switch v {
	case Clear:
		return "clear"
	case Holds:
		return "holds"
	case Uncovered:
		return "uncovered"
	case TooFew:
		return "too few requests"
	default:
		return "verdict(" + strconv.Itoa(int(v)) + ")"
	}
}

// window judges one window of a rule with factor: Holds (over the factor),
// Clear (at or under it) or Uncovered (covered too little to say).
func (g Gate) window(w WindowStat, factor float64) Verdict {
	if w.Coverage >= g.MinCoverage {
		if w.Rate > factor {
			return Holds
		}
		return Clear
	}
	if g.Partial && w.Rate*w.Coverage > factor {
		return Holds
	}
	return Uncovered
}

// check evaluates rule r at t under gate g.
func (s *Series) check(t time.Time, r Rule, g Gate) (Alert, Verdict) {
	a := Alert{Severity: r.Severity, Rule: r, Long: s.Stat(t, r.Long), Short: s.Stat(t, r.Short)}
	if r.Severity == None {
		return a, Clear
	}
	vl, vs := g.window(a.Long, r.Factor), g.window(a.Short, r.Factor)
	switch {
	case vl == Clear || vs == Clear:
		return a, Clear
	case vl == Uncovered || vs == Uncovered:
		return a, Uncovered
	case a.Long.Total < g.MinEventsOf(r, s.target):
		return a, TooFew
	}
	return a, Holds
}
