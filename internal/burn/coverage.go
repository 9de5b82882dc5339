package burn

import (
	"math"
	"time"
)

// openEnd marks the end of the live span: observed up to the query time.
const openEnd = math.MaxInt64

// maxSpans bounds the observed spans a ring remembers. A tracker opens one
// span per start (after a restart, a restored file brings the earlier ones)
// and a seeding adds one; when more accumulate, the earliest is forgotten,
// which can only under-report coverage.
const maxSpans = 8

// span is an observed interval [from, to) in nanoseconds from the series'
// epoch; to == openEnd for the live span.
type span struct{ from, to int64 }

// spans is a ring's observed intervals, sorted and disjoint.
type spans struct {
	n int
	s [maxSpans]span
}

// add records [from, to) as observed, merging it with the spans it overlaps
// or touches. When the result holds more than maxSpans spans, the earliest
// is dropped.
func (c *spans) add(from, to int64) {
	if from >= to {
		return
	}
	var out [maxSpans + 1]span
	n, placed := 0, false
	for _, x := range c.s[:c.n] {
		switch {
		case x.to < from:
			out[n] = x
			n++
		case x.from > to:
			if !placed {
				out[n] = span{from, to}
				n, placed = n+1, true
			}
			out[n] = x
			n++
		default: // overlaps or touches: absorb it
			from, to = min(from, x.from), max(to, x.to)
		}
	}
	if !placed {
		out[n] = span{from, to}
		n++
	}
	first := 0
	if n > maxSpans {
		first = n - maxSpans
	}
	c.n = copy(c.s[:], out[first:n])
}

// closeAt ends the live span at off.
func (c *spans) closeAt(off int64) {
	for i := range c.s[:c.n] {
		if c.s[i].to == openEnd {
			c.s[i].to = max(off, c.s[i].from)
		}
	}
	// A live span closed at its start is empty: drop it.
	j := 0
	for _, x := range c.s[:c.n] {
		if x.from < x.to {
			c.s[j] = x
			j++
		}
	}
	c.n = j
}

// covered returns how many nanoseconds of [lo, hi] were observed, the live
// span counting up to hi.
func (c *spans) covered(lo, hi int64) int64 {
	var sum int64
	for _, x := range c.s[:c.n] {
		if a, b := max(x.from, lo), min(x.to, hi); b > a {
			sum += b - a
		}
	}
	return sum
}

// Start begins live observation at t: from t on, every window of the series
// counts as observed up to the time it is queried at, whether requests
// arrive or not. It fixes the bucket alignment when nothing did before. A
// tracker calls it once when it starts (after restoring any saved state);
// [Series.Add] calls it for a series nobody started. Starting a started
// series does nothing.
func (s *Series) Start(t time.Time) {
	if !s.started {
		s.started, s.epoch = true, t
	}
	if s.live {
		return
	}
	off := s.off(t)
	for i := range s.rings {
		s.rings[i].cov.add(off, openEnd)
	}
	s.live = true
}

// Stop ends live observation at t: time after t counts as unobserved until
// the next [Series.Start]. A tracker calls it when it closes.
func (s *Series) Stop(t time.Time) {
	if !s.live {
		return
	}
	off := s.off(t)
	for i := range s.rings {
		s.rings[i].cov.closeAt(off)
	}
	s.live = false
}

// off is t in nanoseconds from the epoch.
func (s *Series) off(t time.Time) int64 { return int64(t.Sub(s.epoch)) }

// Coverage returns the share of the window of duration w ending at t that
// the series has observed: by live observation since [Series.Start], and
// from restored or seeded history. It is between 0 and 1; 0 before the
// series started or when w <= 0. A window longer than the longest one kept
// is clamped to it, as in [Series.Counts].
func (s *Series) Coverage(t time.Time, w time.Duration) float64 {
	if !s.started || w <= 0 {
		return 0
	}
	r, _ := s.ringFor(w)
	w = min(w, r.dur)
	q := s.off(t)
	return min(1, float64(r.cov.covered(q-int64(w), q))/float64(w))
}
