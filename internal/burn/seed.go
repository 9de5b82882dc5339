package burn

import (
	"errors"
	"fmt"
	"time"
)

// maxCount bounds the requests one bucket may be given by [Series.Seed] or a
// state file, so that no sum over a ring can overflow.
const maxCount = 1 << 50

// Count is the number of good and of all requests in one bucket.
type Count struct{ Good, Total int64 }

// valid reports whether 0 <= Good <= Total <= maxCount.
func (c Count) valid() bool { return c.Good >= 0 && c.Good <= c.Total && c.Total <= maxCount }

// Grid describes the buckets of the ring that keeps one window: bucket i
// covers [Start + i·Width, Start + (i+1)·Width), for i from 0 to N−1; the
// last one holds the time the grid was taken at, so it is partial.
type Grid struct {
	Start time.Time
	Width time.Duration
	N     int
}

// End returns the end of bucket i, Start + (i+1)·Width.
func (g Grid) End(i int) time.Time { return g.Start.Add(time.Duration(i+1) * g.Width) }

// ringOf returns the ring keeping exactly window w, or nil.
func (s *Series) ringOf(w time.Duration) *ring {
	for i := range s.rings {
		if s.rings[i].dur == w {
			return &s.rings[i]
		}
	}
	return nil
}

// Grid returns the buckets of the ring keeping window w at t: the window's
// span plus the partial bucket holding t. ok is false when w is not one of
// the series' windows (the standard ones and the period) or the series has
// not started.
func (s *Series) Grid(t time.Time, w time.Duration) (g Grid, ok bool) {
	r := s.ringOf(w)
	if r == nil || !s.started {
		return Grid{}, false
	}
	first := floorDiv(s.off(t), r.width) - bucketsPerWindow
	return Grid{Start: s.epoch.Add(time.Duration(first * r.width)), Width: time.Duration(r.width), N: slots}, true
}

// Seed replaces the counts the ring of window w holds with counts taken
// elsewhere (the fleet's, from a metrics backend): counts[i] becomes bucket
// i of [Series.Grid](t, w). Buckets the ring no longer keeps (older than its
// span behind the newest request it saw) are skipped. It records [from, t]
// as observed in that ring only: the other windows keep their own
// coverage. Requests added later go on top, as usual.
//
// It fails, changing nothing, when w is not a window of the series, the
// series has not started, len(counts) is not the grid's N, a count is
// negative, has more good than total requests or more than 2^50 requests,
// or from is after t.
func (s *Series) Seed(t time.Time, w time.Duration, counts []Count, from time.Time) error {
	g, ok := s.Grid(t, w)
	switch {
	case !ok:
		return fmt.Errorf("burn: seed: %v is not a window of the series, or it has not started", w)
	case len(counts) != g.N:
		return fmt.Errorf("burn: seed: %d counts for %d buckets", len(counts), g.N)
	case from.After(t):
		return errors.New("burn: seed: history starts after it ends")
	}
	for _, c := range counts {
		if !c.valid() {
			return fmt.Errorf("burn: seed: invalid count %+v", c)
		}
	}
	r := s.ringOf(w)
	last := floorDiv(s.off(t), r.width)
	if last > r.head {
		r.advance(last)
	}
	for i, c := range counts {
		r.set(last-bucketsPerWindow+int64(i), c)
	}
	r.cov.add(s.off(from), s.off(t))
	return nil
}

// set replaces the counts of bucket idx, keeping the running sums; a bucket
// outside [head-bucketsPerWindow, head] is ignored.
func (r *ring) set(idx int64, c Count) {
	if idx < r.head-bucketsPerWindow || idx > r.head {
		return
	}
	b := &r.b[slotOf(idx)]
	if b.idx == idx {
		r.good -= b.good
		r.total -= b.total
	}
	*b = bucket{idx: idx, good: c.Good, total: c.Total}
	r.good += c.Good
	r.total += c.Total
}
