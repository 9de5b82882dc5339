package burn

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// DefaultPeriod is the error-budget period used when [NewSeries] is given 0.
const DefaultPeriod = 30 * 24 * time.Hour

// bucketsPerWindow is the number of buckets a window of duration w is cut
// into; a bucket is ⌈w/bucketsPerWindow⌉ wide, which bounds the counting error
// (see the package documentation).
const bucketsPerWindow = 60

// slots is the ring length: the window's buckets plus the current, partial one.
const slots = bucketsPerWindow + 1

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
// the slots whose idx lies in [head-bucketsPerWindow, head]; every other slot
// is stale and contributes nothing.
type ring struct {
	dur   time.Duration
	width int64 // bucket width in nanoseconds
	head  int64 // index of the newest bucket seen
	good  int64
	total int64
	b     [slots]bucket
	cov   spans // the observed parts of the timeline (see Coverage)
}

func newRing(d time.Duration) ring {
	r := ring{dur: d, width: (int64(d) + bucketsPerWindow - 1) / bucketsPerWindow}
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
	if idx-r.head > bucketsPerWindow {
		r.good, r.total = 0, 0 // everything expires; stale tags take care of the slots
		r.head = idx
		return
	}
	for k := r.head - bucketsPerWindow; k < idx-bucketsPerWindow; k++ {
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
	} else if idx < r.head-bucketsPerWindow {
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
	lo := max(tidx-k, r.head-bucketsPerWindow)
	hi := min(tidx, r.head)
	if lo > hi {
		return 0, 0
	}
	n := hi - lo + 1
	if n <= slots-n { // the range is smaller than its complement: sum it directly
		return r.sumRange(lo, hi)
	}
	g1, t1 := r.sumRange(r.head-bucketsPerWindow, lo-1)
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
	started bool // the epoch is fixed
	live    bool // a live span is open (Start without Stop)
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

// Add records one request that completed at t, judged good or bad. On a
// series nobody started, the first Add starts it at t ([Series.Start]). It
// is O(number of windows) and never allocates.
func (s *Series) Add(t time.Time, good bool) {
	if !s.started {
		s.Start(t)
	}
	off := s.off(t)
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
	return &s.rings[len(s.rings)-1], bucketsPerWindow
}

// Counts returns the number of good and of all requests in the window of
// duration w ending at t, within the bucket approximation described in the
// package documentation. It is 0, 0 before the series started or when w <= 0.
func (s *Series) Counts(t time.Time, w time.Duration) (good, total int64) {
	if !s.started || w <= 0 {
		return 0, 0
	}
	r, k := s.ringFor(w)
	return r.counts(floorDiv(s.off(t), r.width), k)
}

// WindowStat is what a [Series] holds over one window ending at one
// instant. The zero value is an empty window.
type WindowStat struct {
	// Window is the window's duration.
	Window time.Duration
	// Good and Total count the requests in the window, the oldest bucket
	// counted in part (see [Series.Stat]), rounded to whole requests.
	Good, Total int64
	// Rate is the burn rate, (bad/total)/(1-target), from the same counts
	// before rounding; 0 without traffic.
	Rate float64
	// Coverage is the share of the window the series has observed
	// ([Series.Coverage]), between 0 and 1.
	Coverage float64
}

// Stat returns the counts, the burn rate and the coverage of the window of
// duration w ending at t. Where [Series.Counts] counts every bucket the
// window touches, Stat counts the oldest one in proportion to the part of
// it inside the window: exact when requests are spread evenly over that
// bucket, and otherwise off by less than that bucket's requests, in either
// direction (see the package documentation). It does not allocate.
func (s *Series) Stat(t time.Time, w time.Duration) WindowStat {
	good, total := s.window(t, w)
	return WindowStat{Window: w, Good: int64(math.Round(good)), Total: int64(math.Round(total)),
		Rate: s.burnRate(good, total), Coverage: s.Coverage(t, w)}
}

// window returns the good and total requests in [t-w, t], the buckets
// after the one holding t-w counted whole and that one in proportion to
// its part inside the window.
func (s *Series) window(t time.Time, w time.Duration) (good, total float64) {
	if !s.started || w <= 0 {
		return 0, 0
	}
	r, _ := s.ringFor(w)
	w = min(w, r.dur)
	off := s.off(t)
	start := off - int64(w)
	oldest := floorDiv(start, r.width)
	tidx := floorDiv(off, r.width)
	g, n := r.counts(tidx, tidx-oldest-1)
	frac := float64((oldest+1)*r.width-start) / float64(r.width)
	og, on := r.bucketCounts(oldest)
	return float64(g) + frac*float64(og), float64(n) + frac*float64(on)
}

// bucketCounts returns the counts of bucket idx, 0 when the ring no longer
// (or not yet) holds it.
func (r *ring) bucketCounts(idx int64) (good, total int64) {
	if idx < r.head-bucketsPerWindow || idx > r.head {
		return 0, 0
	}
	if b := &r.b[slotOf(idx)]; b.idx == idx {
		return b.good, b.total
	}
	return 0, 0
}

// burnRate converts counts to a burn rate; 0 without traffic.
func (s *Series) burnRate(good, total float64) float64 {
	if total <= 0 {
		return 0
	}
	return (total - good) / total / (1 - s.target)
}

// BurnRate returns (bad/total)/(1-target) over the window of duration w
// ending at t, counted as [Series.Stat] counts, or 0 when the window holds
// no requests.
func (s *Series) BurnRate(t time.Time, w time.Duration) float64 {
	return s.burnRate(s.window(t, w))
}

// BudgetRemaining returns the fraction of the error budget left over the
// period ending at t, counted as [Series.Stat] counts: 1 -
// bad/((1-target)*total). It is 1 when the period holds no requests, 0 when
// the budget is exactly spent and negative when it is overspent.
func (s *Series) BudgetRemaining(t time.Time) float64 {
	good, total := s.window(t, s.period)
	if total <= 0 {
		return 1
	}
	return 1 - (total-good)/((1-s.target)*total)
}
