package burn

import (
	"errors"
	"iter"
	"slices"
	"time"
)

// Alerter decides when the rules over one [Series] raise an alert. Each
// [Alerter.Fire] evaluates every rule; the most severe rule that holds sets
// the alert level (None when no rule holds). An alert fires when the level
// rises: from None to Ticket or Page, or from Ticket to Page. It fires once
// per rise; while the level stays, or falls, nothing fires, and a fall
// re-arms every severity above the new level at once. So a page fires when
// a page rule holds and none did at the previous Fire; a ticket fires when a
// ticket rule holds, no page rule does, and no rule did at the previous
// Fire. Per severity these are the evaluations at which a Prometheus alert
// over the same rules starts firing, a ticket being held back while a page
// holds (the Prometheus rule generator of the root package writes those
// alerts from the same [Rule] values).
//
// Create it with [NewAlerter]; it is not safe for concurrent use.
type Alerter struct {
	s       *Series
	rules   []Rule
	gate    Gate
	holding []bool    // per rule: it held at the last Fire
	verdict []Verdict // per rule: its verdict at the last Fire
	level   Severity  // the most severe rule that held at the last Fire
	last    time.Time // the time of the last Fire
}

// NewAlerter returns an Alerter over s with a copy of rules, each of which
// holds only as gate g allows ([Gate]; the zero Gate lets burn rates alone
// decide). Nil or empty rules mean [DefaultRules]. It fails when s is nil,
// g asks for a coverage outside [0, 1] or a negative number of requests
// other than [AutoMinEvents], or a rule cannot work: a severity other than
// Ticket or Page, a non-positive Short, a Long shorter than Short, or a
// Factor that is not a positive finite number.
func NewAlerter(s *Series, rules []Rule, g Gate) (*Alerter, error) {
	if s == nil {
		return nil, errors.New("burn: nil series")
	}
	if len(rules) == 0 {
		rules = DefaultRules()
	} else {
		rules = slices.Clone(rules)
	}
	if err := validateRules(rules); err != nil {
		return nil, err
	}
	if err := g.validate(); err != nil {
		return nil, err
	}
	return &Alerter{s: s, rules: rules, gate: g, holding: make([]bool, len(rules)), verdict: make([]Verdict, len(rules))}, nil
}

// Fire evaluates every rule at t and updates the alert level. A rule holds
// when its verdict is [Holds], or when it is [Uncovered] and the rule held
// at the previous Fire. When the level rises Fire returns the rule that
// raised it, the first in order among the most severe rules that hold, with
// fired true; otherwise the zero Alert and false. Fire does not allocate.
func (a *Alerter) Fire(t time.Time) (alert Alert, fired bool) {
	var top Alert
	a.last = t
	for i, r := range a.rules {
		c, v := a.s.check(t, r, a.gate)
		a.verdict[i] = v
		a.holding[i] = v == Holds || (v == Uncovered && a.holding[i])
		if a.holding[i] && r.Severity > top.Severity {
			top = c
		}
	}
	fired = top.Severity > a.level
	a.level = top.Severity
	if !fired {
		return Alert{}, false
	}
	return top, true
}

// Holding yields, in order, the rules that held at the last [Alerter.Fire].
func (a *Alerter) Holding() iter.Seq[Rule] {
	return func(yield func(Rule) bool) {
		for i, r := range a.rules {
			if a.holding[i] && !yield(r) {
				return
			}
		}
	}
}

// Evaluated returns the time of the last [Alerter.Fire], the instant
// [Alerter.Holding] and [Alerter.Verdicts] describe; the zero time before
// the first.
func (a *Alerter) Evaluated() time.Time { return a.last }

// Verdicts yields, in order, every rule with its verdict at the last
// [Alerter.Fire] ([Clear] before the first).
func (a *Alerter) Verdicts() iter.Seq2[Rule, Verdict] {
	return func(yield func(Rule, Verdict) bool) {
		for i, r := range a.rules {
			if !yield(r, a.verdict[i]) {
				return
			}
		}
	}
}
