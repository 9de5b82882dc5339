package correlate

import (
	"sync/atomic"
	"time"

	"github.com/llmslo/slo/internal/monoclock"
)

// Clock converts between Go time and the kernel's CLOCK_MONOTONIC
// nanoseconds that [probes.Event].Mono carries.
//
// Go's time.Now() carries a monotonic reading taken from the same
// CLOCK_MONOTONIC on Linux, so [Clock.Mono] of such a value is exact up to
// the pairing error of one calibration (well under 10 µs) and never drifts,
// whatever NTP does to the wall clock. A time.Time without a monotonic
// reading (built from a Unix time, or stripped by Round(0)) is converted
// through the wall clock and the offset of the last [Clock.Recalibrate].
//
// Create one with [NewClock]; its methods are safe for concurrent use.
type Clock struct {
	base     time.Time // with a monotonic reading
	baseMono int64     // CLOCK_MONOTONIC at base
	wallOff  atomic.Int64
}

// NewClock calibrates a Clock against the current CLOCK_MONOTONIC. On a
// platform without it, the Go monotonic clock since NewClock stands in.
func NewClock() *Clock {
	c := &Clock{}
	c.base, c.baseMono = pair()
	c.Recalibrate()
	return c
}

// NewClockAt returns a Clock that maps t (which must carry a monotonic
// reading) to mono. Tests and replays use it.
func NewClockAt(t time.Time, mono int64) *Clock {
	c := &Clock{base: t, baseMono: mono}
	c.wallOff.Store(t.UnixNano() - mono)
	return c
}

// Mono returns t in CLOCK_MONOTONIC nanoseconds.
func (c *Clock) Mono(t time.Time) int64 {
	if t.Round(0) != t { // has a monotonic reading
		return c.baseMono + int64(t.Sub(c.base))
	}
	return t.UnixNano() - c.wallOff.Load()
}

// Now returns the current CLOCK_MONOTONIC nanoseconds.
func (c *Clock) Now() int64 { return c.Mono(time.Now()) }

// Wall returns the wall-clock time of a CLOCK_MONOTONIC reading, with the
// offset of the last calibration.
func (c *Clock) Wall(mono int64) time.Time { return time.Unix(0, mono+c.wallOff.Load()) }

// Recalibrate re-measures the wall-clock offset (after an NTP step, for
// instance). Monotonic conversions do not depend on it.
func (c *Clock) Recalibrate() {
	now := time.Now()
	c.wallOff.Store(now.UnixNano() - c.Mono(now))
}

// pair returns a Go time and the CLOCK_MONOTONIC reading of the same
// instant; without CLOCK_MONOTONIC, the current time and 0, so that Mono
// values count from the Clock's creation.
func pair() (time.Time, int64) {
	t, mono, err := monoclock.Pair()
	if err != nil {
		return time.Now(), 0
	}
	return t, mono
}
