package burn

import (
	"errors"
	"slices"
	"time"
)

// Alerter turns the rule evaluations of one [Series] into alerts that fire
// once per condition. Each rule is armed at first. When an armed rule starts
// to hold it is marked fired, and [Alerter.Fire] reports it, unless an alert
// of the same or higher severity is already active (then it is inhibited:
// marked fired silently, as part of the ongoing incident). A fired rule
// re-arms once it has cleared: both its Long and Short burn rates are back at
// or below its Factor. Create it with [NewAlerter]; it is not safe for
// concurrent use.
type Alerter struct {
	s     *Series
	rules []Rule
	fired []bool
}

// NewAlerter returns an Alerter over s with a copy of rules; nil or empty
// rules mean [DefaultRules]. It fails when s is nil or a rule is invalid
// (see [ValidateRules]).
func NewAlerter(s *Series, rules []Rule) (*Alerter, error) {
	if s == nil {
		return nil, errors.New("burn: nil series")
	}
	if len(rules) == 0 {
		rules = DefaultRules()
	} else {
		rules = slices.Clone(rules)
	}
	if err := ValidateRules(rules); err != nil {
		return nil, err
	}
	return &Alerter{s: s, rules: rules, fired: make([]bool, len(rules))}, nil
}

// Rules returns a copy of the Alerter's rules.
func (a *Alerter) Rules() []Rule { return slices.Clone(a.rules) }

// Active returns the highest severity among the rules that have fired and
// not yet cleared, or None.
func (a *Alerter) Active() Severity {
	sev := None
	for i, f := range a.fired {
		if f {
			sev = max(sev, a.rules[i].Severity)
		}
	}
	return sev
}

// Fire evaluates every rule at t, updates their armed/fired state, and
// returns the most severe newly fired, non-inhibited alert with ok true, or
// the zero Alert and false. Among newly fired rules of equal severity the
// first in order wins; the others are marked fired too. Fire does not
// allocate.
func (a *Alerter) Fire(t time.Time) (alert Alert, ok bool) {
	active := a.Active()
	for i, r := range a.rules {
		c, holds := a.s.check(t, r)
		if a.fired[i] {
			if c.LongBurn <= r.Factor && c.ShortBurn <= r.Factor {
				a.fired[i] = false // cleared: re-arm
			}
			continue
		}
		if !holds {
			continue
		}
		a.fired[i] = true
		if r.Severity <= active {
			continue // inhibited by an ongoing alert of the same or higher severity
		}
		if !ok || r.Severity > alert.Severity {
			alert, ok = c, true
		}
	}
	return alert, ok
}

// Reset re-arms every rule, forgetting which have fired.
func (a *Alerter) Reset() { clear(a.fired) }
