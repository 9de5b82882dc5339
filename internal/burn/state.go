package burn

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Entry is the saved state of one series and its alerter: its name and
// target, the counts and observed spans of every ring, and which rules
// held. [Capture] takes it, [Entry.Restore] puts it back, and [State]
// writes a list of them to bytes. The zero value holds nothing.
type Entry struct {
	// Name identifies the series (the tracker's objective name).
	Name string
	// Target is the series' target, as given to [NewSeries].
	Target float64

	epoch int64 // wall clock of the epoch, Unix nanoseconds
	rings []ringState
	rules []string // texts of the alerter's rules, in order
	holds []bool   // per rule: it held at the last Fire
}

// ringState is one ring as saved: its window, newest bucket, the buckets it
// keeps and its observed spans (all closed).
type ringState struct {
	dur     int64
	head    int64
	buckets []bucket
	spans   []span
}

// Capture returns the state of s and a (nil for none) at t, under name. The
// live span counts as observed up to t. Times are saved on the wall clock:
// the epoch is t's wall reading minus the time from the epoch to t.
func Capture(name string, s *Series, a *Alerter, t time.Time) Entry {
	e := Entry{Name: name, Target: s.target}
	if !s.started {
		return e
	}
	now := s.off(t)
	e.epoch = t.UnixNano() - now
	e.rings = make([]ringState, len(s.rings))
	for i := range s.rings {
		r := &s.rings[i]
		rs := ringState{dur: int64(r.dur), head: r.head}
		for k := r.head - bucketsPerWindow; k <= r.head; k++ {
			if b := r.b[slotOf(k)]; b.idx == k && b.total > 0 {
				rs.buckets = append(rs.buckets, b)
			}
		}
		c := r.cov
		c.closeAt(now)
		rs.spans = slices.Clone(c.s[:c.n])
		e.rings[i] = rs
	}
	if a != nil {
		for i, r := range a.rules {
			e.rules = append(e.rules, ruleText(r))
			e.holds = append(e.holds, a.holding[i])
		}
	}
	return e
}

// errRestore is wrapped by the errors Restore returns.
var errRestore = errors.New("state does not fit the series")

// Restore replaces the contents of s with e's, and the rule states of a
// (nil for none) when a has the same rules in the same order; now is the
// current time, whose wall reading places the saved epoch. s must be a
// fresh series (nothing added, not started) of e's target and with e's
// windows: otherwise Restore fails and changes nothing. The restored series
// is started but not live: call [Series.Start] to resume observation; the
// time since the state was captured counts as unobserved.
func (e *Entry) Restore(s *Series, a *Alerter, now time.Time) error {
	if s.started {
		return fmt.Errorf("burn: restore %q: the series already started: %w", e.Name, errRestore)
	}
	if e.Target != s.target || len(e.rings) != len(s.rings) {
		return fmt.Errorf("burn: restore %q: target or windows differ: %w", e.Name, errRestore)
	}
	for i, rs := range e.rings {
		if rs.dur != int64(s.rings[i].dur) {
			return fmt.Errorf("burn: restore %q: window %v where the series keeps %v: %w",
				e.Name, time.Duration(rs.dur), s.rings[i].dur, errRestore)
		}
	}
	// The epoch on today's wall clock, carrying now's monotonic reading.
	s.epoch = now.Add(-now.Sub(time.Unix(0, e.epoch)))
	s.started, s.live = true, false
	for i, rs := range e.rings {
		r := &s.rings[i]
		r.head, r.good, r.total = rs.head, 0, 0
		for _, b := range rs.buckets {
			r.b[slotOf(b.idx)] = b
			r.good += b.good
			r.total += b.total
		}
		r.cov = spans{}
		for _, x := range rs.spans {
			r.cov.add(x.from, x.to)
		}
	}
	if a != nil && slices.Equal(e.rules, ruleTexts(a.rules)) {
		copy(a.holding, e.holds)
		a.level = None
		for i, r := range a.rules {
			if a.holding[i] && r.Severity > a.level {
				a.level = r.Severity
			}
		}
	}
	return nil
}

// ruleText names a rule in a state file: its severity and condition.
func ruleText(r Rule) string { return r.Severity.String() + " " + r.String() }

func ruleTexts(rules []Rule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = ruleText(r)
	}
	return out
}
