package burn

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// DefaultPeriod is the error-budget period used when [NewSeries] is given 0.
const DefaultPeriod = 30 * 24 * time.Hour

// BucketsPerWindow is the number of buckets a window of duration w is cut
// into; a bucket is ⌈w/BucketsPerWindow⌉ wide, which bounds the counting error
// (see the package documentation).
const BucketsPerWindow = 60

// slots is the ring length: the window's buckets plus the current, partial one.
const slots = BucketsPerWindow + 1

// Window is a named look-back duration over which a [Series] keeps counts.
type Window struct {
	// Name is the short form used in labels: "5m", "1h", "3d".
	Name string
	// Dur is the window's length.
	Dur time.Duration
}

// standardDurs are the windows every Series keeps besides its period.
var standardDurs = [...]time.Duration{
	5 * time.Minute, 30 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour,
}

// StandardWindows returns, in a new slice, the windows every [Series] keeps
// besides its budget period: 5m, 30m, 1h, 6h, 1d and 3d.
func StandardWindows() []Window {
	ws := make([]Window, len(standardDurs))
	for i, d := range standardDurs {
		ws[i] = Window{Name: WindowName(d), Dur: d}
	}
	return ws
}

// WindowName formats d in the short form used for window labels: whole days
// as "3d", whole hours as "6h", whole minutes as "5m", anything else as
// [time.Duration.String].
func WindowName(d time.Duration) string {
	switch {
	case d <= 0:
		return d.String()
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	default:
		return d.String()
	}
}

// bucket holds the counts of one time slot; idx identifies the slot (its
// start is epoch + idx*width) so that stale slots are recognised without
// clearing them.
type bucket struct {
	idx         int64
	good, total int64
}

// ring is one window's buckets. Invariant: good and total are the sums over
// the slots whose idx lies in [head-BucketsPerWindow, head]; every other slot
// is stale and contributes nothing.
type ring struct {
	dur   time.Duration
	width int64 // bucket width in nanoseconds
	head  int64 // index of the newest bucket seen
	good  int64
	total int64
	b     [slots]bucket
}

func newRing(d time.Duration) ring {
	r := ring{dur: d, width: (int64(d) + BucketsPerWindow - 1) / BucketsPerWindow}
	for i := range r.b {
		r.b[i].idx = math.MinInt64
	}
	return r
}

// floorDiv is a/b rounded towards negative infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func slotOf(idx int64) int {
	m := idx % slots
	if m < 0 {
		m += slots
	}
	return int(m)
}

// advance moves head to idx (> head), expiring the buckets that fall out.
func (r *ring) advance(idx int64) {
	if idx-r.head > BucketsPerWindow {
		r.good, r.total = 0, 0 // everything expires; stale tags take care of the slots
		r.head = idx
		return
	}
	for k := r.head - BucketsPerWindow; k < idx-BucketsPerWindow; k++ {
		b := &r.b[slotOf(k)]
		if b.idx == k {
			r.good -= b.good
			r.total -= b.total
			b.idx = math.MinInt64
		}
	}
	r.head = idx
}

func (r *ring) add(idx int64, good bool) {
	if idx > r.head {
		r.advance(idx)
	} else if idx < r.head-BucketsPerWindow {
		return // older than every window this ring serves
	}
	b := &r.b[slotOf(idx)]
	if b.idx != idx {
		*b = bucket{idx: idx}
	}
	b.total++
	r.total++
	if good {
		b.good++
		r.good++
	}
}

// sumRange sums the slots tagged lo..hi (inclusive).
func (r *ring) sumRange(lo, hi int64) (good, total int64) {
	for k := lo; k <= hi; k++ {
		if b := &r.b[slotOf(k)]; b.idx == k {
			good += b.good
			total += b.total
		}
	}
	return good, total
}

// counts returns the counts of buckets tidx-k..tidx that the ring still holds.
func (r *ring) counts(tidx, k int64) (good, total int64) {
	lo := max(tidx-k, r.head-BucketsPerWindow)
	hi := min(tidx, r.head)
	if lo > hi {
		return 0, 0
	}
	n := hi - lo + 1
	if n <= slots-n { // the range is smaller than its complement: sum it directly
		return r.sumRange(lo, hi)
	}
	g1, t1 := r.sumRange(r.head-BucketsPerWindow, lo-1)
	g2, t2 := r.sumRange(hi+1, r.head)
	return r.good - g1 - g2, r.total - t1 - t2
}

// Series is the request history of one objective: good and total counts in
// bucketed rings per window, from which burn rates and the remaining error
// budget are computed. Create it with [NewSeries]; the zero value is not
// usable. A Series is not safe for concurrent use.
type Series struct {
	target  float64
	period  time.Duration
	started bool
	epoch   time.Time
	rings   []ring // ascending by dur
}

// NewSeries returns an empty Series for an objective that wants a fraction
// target of requests to be good (e.g. 0.99), with an error budget over period
// (0 means [DefaultPeriod]). It keeps the [StandardWindows] and the period.
// It fails unless 0 < target < 1 and period >= 0.
func NewSeries(target float64, period time.Duration) (*Series, error) {
	if !(target > 0 && target < 1) {
		return nil, fmt.Errorf("burn: target %v outside (0, 1)", target)
	}
	if period < 0 {
		return nil, fmt.Errorf("burn: negative period %v", period)
	}
	if period == 0 {
		period = DefaultPeriod
	}
	durs := append(standardDurs[:len(standardDurs):len(standardDurs)], period)
	slices.Sort(durs)
	durs = slices.Compact(durs)
	s := &Series{target: target, period: period, rings: make([]ring, len(durs))}
	for i, d := range durs {
		s.rings[i] = newRing(d)
	}
	return s, nil
}

// Target returns the objective's target fraction of good requests.
func (s *Series) Target() float64 { return s.target }

// Period returns the error-budget period.
func (s *Series) Period() time.Duration { return s.period }

// Windows returns, in a new slice and ascending, the windows s keeps: the
// [StandardWindows] and the budget period.
func (s *Series) Windows() []Window {
	ws := make([]Window, len(s.rings))
	for i := range s.rings {
		ws[i] = Window{Name: WindowName(s.rings[i].dur), Dur: s.rings[i].dur}
	}
	return ws
}

// Add records one request that completed at t, judged good or bad. The first
// Add fixes the bucket alignment. It is O(number of windows) and never
// allocates.
func (s *Series) Add(t time.Time, good bool) {
	if !s.started {
		s.started = true
		s.epoch = t
	}
	off := int64(t.Sub(s.epoch))
	for i := range s.rings {
		r := &s.rings[i]
		r.add(floorDiv(off, r.width), good)
	}
}

// ringFor picks the ring answering a query of duration w and the number of
// buckets before the current one to include.
func (s *Series) ringFor(w time.Duration) (*ring, int64) {
	for i := range s.rings {
		r := &s.rings[i]
		if w <= r.dur {
			return r, (int64(w) + r.width - 1) / r.width
		}
	}
	return &s.rings[len(s.rings)-1], BucketsPerWindow
}

// Counts returns the number of good and of all requests in the window of
// duration w ending at t, within the bucket approximation described in the
// package documentation. It is 0, 0 before the first Add or when w <= 0.
func (s *Series) Counts(t time.Time, w time.Duration) (good, total int64) {
	if !s.started || w <= 0 {
		return 0, 0
	}
	r, k := s.ringFor(w)
	return r.counts(floorDiv(int64(t.Sub(s.epoch)), r.width), k)
}

// burnRate converts counts to a burn rate; 0 without traffic.
func (s *Series) burnRate(good, total int64) float64 {
	if total <= 0 {
		return 0
	}
	return float64(total-good) / float64(total) / (1 - s.target)
}

// BurnRate returns (bad/total)/(1-target) over the window of duration w
// ending at t, or 0 when the window holds no requests.
func (s *Series) BurnRate(t time.Time, w time.Duration) float64 {
	return s.burnRate(s.Counts(t, w))
}

// BudgetRemaining returns the fraction of the error budget left over the
// period ending at t: 1 - bad/((1-target)*total). It is 1 when the period
// holds no requests, 0 when the budget is exactly spent and negative when it
// is overspent.
func (s *Series) BudgetRemaining(t time.Time) float64 {
	good, total := s.Counts(t, s.period)
	if total <= 0 {
		return 1
	}
	return 1 - float64(total-good)/((1-s.target)*float64(total))
}

// Severity ranks alerts; a higher value is more urgent.
type Severity uint8

// The severities, in increasing urgency.
const (
	// None means no alert condition holds.
	None Severity = iota
	// Ticket asks for attention within working hours.
	Ticket
	// Page asks for attention now.
	Page
)

// String returns "none", "ticket" or "page".
func (v Severity) String() string {
	switch v {
	case None:
		return "none"
	case Ticket:
		return "ticket"
	case Page:
		return "page"
	default:
		return "severity(" + strconv.Itoa(int(v)) + ")"
	}
}

// Rule is one multi-window burn-rate condition: it holds when the burn rates
// over both the Long and the Short window exceed Factor.
type Rule struct {
	// Severity of the alert the rule raises; a rule with None never holds.
	Severity Severity
	// Long is the window that makes the alert significant (e.g. 1h).
	Long time.Duration
	// Short is the window that makes the alert reset quickly once the
	// burning stops (e.g. 5m); conventionally Long/12.
	Short time.Duration
	// Factor is the burn-rate threshold both windows must exceed.
	Factor float64
	// MinTotal is an optional minimum-traffic guard: the rule does not hold
	// while the Long window has fewer requests. 0 disables it.
	MinTotal int64
}

// DefaultRules returns, in a new slice, the standard multi-window,
// multi-burn-rate rules for a 30-day budget: page when the 1h and 5m burn
// rates both exceed 14.4 or the 6h and 30m both exceed 6; ticket when the 3d
// and 6h both exceed 1.
func DefaultRules() []Rule {
	return []Rule{
		{Severity: Page, Long: time.Hour, Short: 5 * time.Minute, Factor: 14.4},
		{Severity: Page, Long: 6 * time.Hour, Short: 30 * time.Minute, Factor: 6},
		{Severity: Ticket, Long: 72 * time.Hour, Short: 6 * time.Hour, Factor: 1},
	}
}

// ErrInvalidRule is wrapped by the errors [ValidateRules] and [NewAlerter]
// return.
var ErrInvalidRule = errors.New("invalid burn-rate rule")

// ValidateRules reports the first rule that cannot work: a severity other
// than Ticket or Page, a non-positive Short, a Long shorter than Short, a
// Factor that is not a positive finite number, or a negative MinTotal.
func ValidateRules(rules []Rule) error {
	for i, r := range rules {
		var why string
		switch {
		case r.Severity != Ticket && r.Severity != Page:
			why = "severity " + r.Severity.String()
		case r.Short <= 0:
			why = "short window " + r.Short.String()
		case r.Long < r.Short:
			why = "long window " + r.Long.String() + " shorter than short window " + r.Short.String()
		case !(r.Factor > 0) || math.IsInf(r.Factor, 1):
			why = "factor " + strconv.FormatFloat(r.Factor, 'g', -1, 64)
		case r.MinTotal < 0:
			why = "negative min total"
		default:
			continue
		}
		return fmt.Errorf("burn: rule %d: %s: %w", i, why, ErrInvalidRule)
	}
	return nil
}

// Alert is the outcome of evaluating rules: the most severe rule that holds
// and its evidence. The zero value (Severity None) means no rule holds.
type Alert struct {
	// Severity is the rule's severity, or None.
	Severity Severity
	// Rule is the rule that holds.
	Rule Rule
	// LongBurn and ShortBurn are the burn rates over Rule.Long and Rule.Short.
	LongBurn, ShortBurn float64
	// Bad and Total count the requests in the Rule.Long window.
	Bad, Total int64
}

// check evaluates one rule at t.
func (s *Series) check(t time.Time, r Rule) (a Alert, holds bool) {
	lg, lt := s.Counts(t, r.Long)
	sg, st := s.Counts(t, r.Short)
	a = Alert{
		Severity: r.Severity, Rule: r,
		LongBurn: s.burnRate(lg, lt), ShortBurn: s.burnRate(sg, st),
		Bad: lt - lg, Total: lt,
	}
	holds = r.Severity != None && lt > 0 && st > 0 && lt >= r.MinTotal &&
		a.LongBurn > r.Factor && a.ShortBurn > r.Factor
	return a, holds
}

// Evaluate returns the most severe of rules that holds at t: its Long and
// Short burn rates both exceed its Factor (and its MinTotal guard is met).
// Among rules of equal severity the first in order wins. It returns the zero
// Alert when none holds. Evaluate does not allocate.
func (s *Series) Evaluate(t time.Time, rules []Rule) Alert {
	var best Alert
	for _, r := range rules {
		if r.Severity <= best.Severity {
			continue
		}
		if a, ok := s.check(t, r); ok {
			best = a
		}
	}
	return best
}
