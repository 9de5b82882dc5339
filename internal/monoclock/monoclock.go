package monoclock

import (
	"math"
	"time"
)

// Now returns the current CLOCK_MONOTONIC time in nanoseconds; 0 where the
// platform has no such clock.
func Now() int64 {
	n, _ := read()
	return n
}

// Pair returns a Go time, with its monotonic reading, and the
// CLOCK_MONOTONIC time of the same instant: of five brackets time.Now, read,
// time.Now, the tightest one's midpoint (its error is half the bracket,
// well under 10 µs).
func Pair() (time.Time, int64, error) {
	var best time.Time
	var bestMono int64
	gap := time.Duration(math.MaxInt64)
	for range 5 {
		t0 := time.Now()
		m, err := read()
		t1 := time.Now()
		if err != nil {
			return time.Time{}, 0, err
		}
		if d := t1.Sub(t0); d < gap {
			gap, best, bestMono = d, t0.Add(d/2), m
		}
	}
	return best, bestMono, nil
}

// WallOffset returns wall-clock minus CLOCK_MONOTONIC nanoseconds now:
// time.Unix(0, mono+offset) is the wall time of the reading mono. The offset
// changes when the wall clock is stepped.
func WallOffset() (int64, error) {
	t, m, err := Pair()
	if err != nil {
		return 0, err
	}
	return t.UnixNano() - m, nil
}
